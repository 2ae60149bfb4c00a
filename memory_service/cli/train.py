"""`memory-service train <model>`: reproduce the models that ship inside the package."""

import click


@click.group()
def train() -> None:
    """Train the models that ship with the service."""


from memory_service.cli.emotions import train_emotions, train_int8  # noqa: E402

train.add_command(train_emotions)
train.add_command(train_int8)
