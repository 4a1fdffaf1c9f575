"""Shortens the names a wasm module imports from its wasm-bindgen glue.

wasm-bindgen names every import `__wbg_<name>_<16 hex digits>`, and each name
is written twice, once in the wasm and once in the glue: in the worker that
is about a tenth of its gzipped bytes (SPEC §9 budgets them). This renames
each import and its module, in the wasm's import section and in the glue's
import object, to short names. Imports from the split loader (`./__wasm_split.js`,
see scripts/post_build.py) keep their names: they are that module's exports. Everything else in the module is copied byte for byte.

The glue must name each import exactly once (as its import object's key);
anything else fails the build rather than shipping a worker that cannot
link.
"""
import re
import string

_FIRST = string.ascii_letters + "_$"
_REST = _FIRST + string.digits


def _uleb(data: bytes, i: int) -> tuple[int, int]:
    value = shift = 0
    while True:
        byte = data[i]
        i += 1
        value |= (byte & 0x7F) << shift
        shift += 7
        if byte < 0x80:
            return value, i


def leb_bytes(n: int) -> bytes:
    out = bytearray()
    while True:
        byte = n & 0x7F
        n >>= 7
        if n:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def _name(data: bytes, i: int) -> tuple[str, int]:
    n, i = _uleb(data, i)
    return data[i : i + n].decode(), i + n


def _skip_reftype(data: bytes, i: int) -> int:
    # 0x63/0x64 (ref null ht / ref ht) carry a heap type; others are one byte.
    kind = data[i]
    i += 1
    if kind in (0x63, 0x64):
        _, i = _uleb(data, i)
    return i


def _skip_limits(data: bytes, i: int) -> int:
    flags = data[i]
    _, i = _uleb(data, i + 1)
    if flags & 1:
        _, i = _uleb(data, i)
    return i


def _skip_desc(data: bytes, i: int) -> int:
    kind = data[i]
    i += 1
    if kind == 0x00:  # function: type index
        _, i = _uleb(data, i)
    elif kind == 0x01:  # table: reference type, limits
        i = _skip_limits(data, _skip_reftype(data, i))
    elif kind == 0x02:  # memory: limits
        i = _skip_limits(data, i)
    elif kind == 0x03:  # global: value type, mutability
        i = _skip_reftype(data, i) + 1
    elif kind == 0x04:  # tag: attribute, type index
        _, i = _uleb(data, i + 1)
    else:
        raise ValueError(f"unknown import kind {kind:#x}")
    return i


def short_name(n: int) -> str:
    """The `n`th short identifier: a, b, … $, aa, ab, …"""
    name = _FIRST[n % len(_FIRST)]
    n //= len(_FIRST)
    while n:
        n -= 1
        name += _REST[n % len(_REST)]
        n //= len(_REST)
    return name


def shorten(wasm: bytes, glue: str) -> tuple[bytes, str]:
    """The module and glue with every import renamed; raises ValueError if
    the glue does not name each import exactly once."""
    if wasm[:8] != b"\0asm\x01\0\0\0":
        raise ValueError("not a wasm module")
    out = bytearray(wasm[:8])
    i = 8
    renamed = {}
    modules = {}
    while i < len(wasm):
        section = wasm[i]
        size, start = _uleb(wasm, i + 1)
        body = wasm[start : start + size]
        i = start + size
        if section == 2:
            count, j = _uleb(body, 0)
            new = bytearray(leb_bytes(count))
            for _ in range(count):
                module, j = _name(body, j)
                field, j = _name(body, j)
                desc_start = j
                j = _skip_desc(body, j)
                if module.endswith("/__wasm_split.js"):
                    # The split loader, an ES module the glue imports: its
                    # names are that module's exports.
                    short_module, short = module, field
                else:
                    short = renamed.setdefault(field, short_name(len(renamed)))
                    short_module = modules.setdefault(module, short_name(len(modules)))
                for text in (short_module, short):
                    new += leb_bytes(len(text.encode())) + text.encode()
                new += body[desc_start:j]
            if j != len(body):
                raise ValueError("import section has trailing bytes")
            body = bytes(new)
        out += bytes([section]) + leb_bytes(len(body)) + body
    for old, short in modules.items():
        key = f'"{old}":'
        if glue.count(f'"{old}"') != 1 or glue.count(key) != 1:
            raise ValueError(f"the glue does not name module {old} exactly once, as a key")
        glue = glue.replace(key, f"{short}:")
    for old, short in renamed.items():
        word = re.compile(rf"(?<![\w$]){re.escape(old)}(?![\w$])")
        if len(word.findall(glue)) != 1 or len(re.findall(rf"(?<![\w$.]){re.escape(old)}:", glue)) != 1:
            raise ValueError(f"the glue does not name import {old} exactly once, as a key")
        glue = word.sub(short, glue)
    return bytes(out), glue
