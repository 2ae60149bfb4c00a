"""`memory-service eval <benchmark>`: score the service's models on held-out data.

Add a benchmark by writing its click command in its own module and registering it at the bottom."""

import click


@click.group(name="eval")
def eval_group() -> None:
    """Evaluate models on benchmark data."""


from memory_service.cli.emotions import eval_emotions  # noqa: E402

eval_group.add_command(eval_emotions)

from memory_service.cli.locomo import eval_locomo  # noqa: E402

eval_group.add_command(eval_locomo)
