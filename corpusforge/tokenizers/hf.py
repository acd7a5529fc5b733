"""The trained SentencePiece BPE model as a Hugging Face `tokenizer.json`, loadable offline with
`AutoTokenizer.from_pretrained(TOKENIZER_DIR)` (transformers) or `Tokenizer.from_file` (tokenizers).

Built with the `tokenizers` library alone, from the model's own pieces: no hub download, no transformers
conversion code. The construction is the one transformers' SentencePieceExtractor / LlamaConverter use: BPE
vocabulary = the SentencePiece pieces in id order, merges = every split of a piece into two pieces, ordered by
the piece's id (SentencePiece merges by score, and its ids are in score order); byte fallback; user-defined
symbols as added tokens matched before the model. It is exact for the options corpusforge trains with
(identity normalization, no extra-whitespace removal); other options are refused rather than approximated.
`train-tokenizer` checks the agreement on the first lines of its training sample and states it in the model
card. Loading with `tokenizers` alone needs `tok.encode_special_tokens = True` after `Tokenizer.from_file`: the
flag is not part of tokenizer.json (transformers reads `split_special_tokens` from tokenizer_config.json).
"""
from __future__ import annotations

import json

SPACE = "\u2581"  # SentencePiece's meta symbol for a space
# sentencepiece_model.proto: ModelProto.SentencePiece.Type, TrainerSpec.ModelType
NORMAL, UNKNOWN, CONTROL, USER_DEFINED, UNUSED, BYTE = 1, 2, 3, 4, 5, 6
BPE_MODEL = 2
FILES = ("tokenizer.json", "tokenizer_config.json", "special_tokens_map.json")


class _Msg:
    """Just enough of protobuf's wire format to read a SentencePiece ModelProto. sentencepiece's generated
    sentencepiece_model_pb2 needs a newer protobuf runtime than the one Beam pins, so it cannot be imported."""

    def __init__(self, data: bytes):
        self.fields: dict[int, list] = {}
        i = 0
        while i < len(data):
            key, i = self._varint(data, i)
            number, wire = key >> 3, key & 7
            if wire == 0:
                value, i = self._varint(data, i)
            elif wire == 1:
                value, i = data[i:i + 8], i + 8
            elif wire == 2:
                n, i = self._varint(data, i)
                value, i = data[i:i + n], i + n
            elif wire == 5:
                value, i = data[i:i + 4], i + 4
            else:
                raise ValueError(f"not a SentencePiece model (protobuf wire type {wire})")
            self.fields.setdefault(number, []).append(value)

    @staticmethod
    def _varint(data: bytes, i: int) -> tuple[int, int]:
        shift = value = 0
        while True:
            b = data[i]
            i += 1
            value |= (b & 0x7F) << shift
            shift += 7
            if not b & 0x80:
                return value, i

    def int(self, number: int, default: int) -> int:
        v = self.fields.get(number, [default])[-1]
        return v - (1 << 64) if v >= 1 << 63 else v  # int32 fields: negatives are 10-byte varints

    def str(self, number: int, default: str = "") -> str:
        return self.fields.get(number, [default.encode()])[-1].decode("utf-8")

    def msg(self, number: int) -> "_Msg":
        return _Msg(self.fields.get(number, [b""])[-1])

    def msgs(self, number: int) -> list["_Msg"]:
        return [_Msg(v) for v in self.fields.get(number, [])]


class SentencePieceModel:
    """The fields of sentencepiece_model.proto the export needs, with the proto's defaults."""

    def __init__(self, model_proto: bytes):
        m = _Msg(model_proto)
        pieces = m.msgs(1)  # ModelProto.pieces: piece = 1, score = 2, type = 3
        self.pieces = [p.str(1) for p in pieces]
        self.types = [p.int(3, NORMAL) for p in pieces]
        ts, ns = m.msg(2), m.msg(3)  # trainer_spec, normalizer_spec
        self.model_type = ts.int(3, 1)
        self.split_by_whitespace = bool(ts.int(22, 1))
        self.split_digits = bool(ts.int(25, 0))
        self.treat_whitespace_as_suffix = bool(ts.int(24, 0))
        self.byte_fallback = bool(ts.int(35, 0))
        self.unk_id, self.bos_id, self.eos_id, self.pad_id = ts.int(40, 0), ts.int(41, 1), ts.int(42, 2), ts.int(43, -1)
        self.normalization = ns.str(1, "nmt_nfkc")
        self.add_dummy_prefix = bool(ns.int(3, 1))
        self.remove_extra_whitespaces = bool(ns.int(4, 1))

    def piece(self, i: int) -> str | None:
        return self.pieces[i] if 0 <= i < len(self.pieces) else None


def _merges(vocab: dict[str, int]) -> list[tuple[str, str]]:
    """Every (left, right) whose concatenation is a piece, ordered by that piece's id, then by the parts' ids."""
    out = []
    for piece, pid in vocab.items():
        for i in range(1, len(piece)):
            left, right = piece[:i], piece[i:]
            if left in vocab and right in vocab:
                out.append((pid, vocab[left], vocab[right], left, right))
    return [(left, right) for *_, left, right in sorted(out)]


def build_hf_tokenizer(model_proto: bytes):
    """A `tokenizers.Tokenizer` that encodes and decodes like the SentencePiece BPE model `model_proto`."""
    from tokenizers import AddedToken, Tokenizer, decoders, normalizers, pre_tokenizers
    from tokenizers.models import BPE

    m = SentencePieceModel(model_proto)
    if m.model_type != BPE_MODEL:
        raise ValueError("tokenizer.json export supports BPE models only (corpusforge trains BPE by default)")
    if m.normalization != "identity" or m.remove_extra_whitespaces or m.treat_whitespace_as_suffix:
        raise ValueError(f"tokenizer.json export needs normalization identity without extra-whitespace removal "
                         f"(got {m.normalization!r}, remove_extra_whitespaces={m.remove_extra_whitespaces})")
    vocab = {p: i for i, p in enumerate(m.pieces)}
    unk = m.piece(m.unk_id)
    tok = Tokenizer(BPE(vocab=vocab, merges=_merges(vocab), unk_token=unk, fuse_unk=True,
                        byte_fallback=m.byte_fallback))
    norm = [normalizers.Replace(" ", SPACE)]
    if m.add_dummy_prefix:
        norm.insert(0, normalizers.Prepend(SPACE))
    tok.normalizer = normalizers.Sequence(norm)
    # SentencePiece never merges across a word start (split_by_whitespace) or between digits (split_digits).
    pre = [pre_tokenizers.Split(SPACE, behavior="merged_with_next")] if m.split_by_whitespace else []
    if m.split_digits:
        pre.append(pre_tokenizers.Digits(individual_digits=True))
    tok.pre_tokenizer = pre_tokenizers.Sequence(pre) if pre else None
    dec = [decoders.Replace(SPACE, " "), decoders.ByteFallback(), decoders.Fuse()]
    if m.add_dummy_prefix:
        dec.append(decoders.Strip(" ", 1, 0))
    tok.decoder = decoders.Sequence(dec)
    # User-defined symbols ("\n", PII placeholders) are matched before the model, as SentencePiece does;
    # control symbols (end-of-text) never come out of encoding text, so they are special tokens.
    tok.add_tokens([AddedToken(p, normalized=False, special=False)
                    for p, t in zip(m.pieces, m.types) if t == USER_DEFINED])
    tok.add_special_tokens([AddedToken(p, normalized=False, special=True)
                            for p, t in zip(m.pieces, m.types) if t in (CONTROL, UNKNOWN)])
    # SentencePiece never produces a control piece from raw text ("<|endoftext|>" typed in a document is
    # bytes, so a document cannot fake a boundary); tokenizers would match it unless told not to.
    tok.encode_special_tokens = True
    return tok


def write_hf_files(model_proto: bytes, write) -> dict[str, bytes]:
    """tokenizer.json, tokenizer_config.json and special_tokens_map.json as bytes, each passed to
    `write(name, data)`; returns them."""
    m = SentencePieceModel(model_proto)
    tok = build_hf_tokenizer(model_proto)
    special = {k: v for k, v in (("unk_token", m.piece(m.unk_id)), ("bos_token", m.piece(m.bos_id)),
                                 ("eos_token", m.piece(m.eos_id)), ("pad_token", m.piece(m.pad_id))) if v}
    config = {"tokenizer_class": "PreTrainedTokenizerFast", "clean_up_tokenization_spaces": False,
              "split_special_tokens": True,
              "add_bos_token": False, "add_eos_token": False, "model_max_length": 1_000_000_000, **special}
    files = {
        "tokenizer.json": tok.to_str(pretty=True).encode("utf-8"),
        "tokenizer_config.json": (json.dumps(config, indent=2, sort_keys=True) + "\n").encode("utf-8"),
        "special_tokens_map.json": (json.dumps(special, indent=2, sort_keys=True) + "\n").encode("utf-8"),
    }
    for name, data in files.items():
        write(name, data)
    return files
