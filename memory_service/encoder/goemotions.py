"""Reading GoEmotions files: `text<TAB>comma-separated label indices<TAB>comment id`, labels in labels.txt."""

from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Split:
    labels: tuple[str, ...]
    texts: list[str]
    targets: list[tuple[int, ...]]  # indices into labels


def read_labels(path: Path) -> tuple[str, ...]:
    if not path.exists():
        raise FileNotFoundError(f"no labels file at {path}")
    labels = tuple(line.strip() for line in path.read_text(encoding="utf-8").splitlines() if line.strip())
    if not labels:
        raise ValueError(f"{path} lists no labels")
    return labels


def read_split(data_dir: Path, taxonomy: str, split: str) -> Split:
    """DIR/<taxonomy>/<split>.tsv with DIR/<taxonomy>/labels.txt; malformed rows are errors, with their line."""
    folder = data_dir / taxonomy
    labels = read_labels(folder / "labels.txt")
    path = folder / f"{split}.tsv"
    if not path.exists():
        raise FileNotFoundError(f"no {split} split at {path}")
    texts: list[str] = []
    targets: list[tuple[int, ...]] = []
    for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        fields = line.split("\t")
        if len(fields) < 2:
            raise ValueError(f"{path}:{n}: expected text<TAB>labels<TAB>id")
        try:
            indices = tuple(int(i) for i in fields[1].split(","))
        except ValueError:
            raise ValueError(f"{path}:{n}: labels {fields[1]!r} are not comma-separated integers") from None
        if any(not 0 <= i < len(labels) for i in indices):
            raise ValueError(f"{path}:{n}: label index out of range 0..{len(labels) - 1}")
        texts.append(fields[0])
        targets.append(indices)
    if not texts:
        raise ValueError(f"{path} holds no examples")
    return Split(labels=labels, texts=texts, targets=targets)
