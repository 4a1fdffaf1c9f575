"""scripts/wasm_imports.py: the worker's import names are shortened in the
wasm and its glue alike, or the build stops."""
import json
import pathlib
import subprocess
import sys
import unittest

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[2] / "scripts"))
import wasm_imports  # noqa: E402


def name(text: str) -> bytes:
    return bytes([len(text)]) + text.encode()


def section(sid: int, body: bytes) -> bytes:
    return bytes([sid]) + wasm_imports.leb_bytes(len(body)) + body


GLUE_MODULE = "./casefile-sw_bg.js"
IMPORTS = [
    ("__wbg_fetch_0123456789abcdef", b"\x00\x00"),  # function of type 0
    ("__wbg_memory_0123456789abcdef", b"\x02\x01\x01\x02"),  # memory 1..2
    ("__wbg_flag_0123456789abcdef", b"\x03\x7f\x00"),  # immutable i32 global
    ("__wbindgen_externrefs", b"\x01\x6f\x00\x01"),  # externref table, min 1
]
MODULE = (
    b"\0asm\x01\0\0\0"
    + section(1, b"\x01\x60\x00\x00")
    + section(
        2,
        bytes([len(IMPORTS)]) + b"".join(name(GLUE_MODULE) + name(n) + d for n, d in IMPORTS),
    )
    + section(3, b"\x01\x00")
    + section(7, b"\x01" + name("run") + b"\x00\x01")
    + section(10, b"\x01\x04\x00\x10\x00\x0b")
)
GLUE = (
    'function k(){return{__proto__:null,"' + GLUE_MODULE + '":{__proto__:null,'
    + ",".join(f"{n}:function(){{}}" for n, _ in IMPORTS)
    + "}}}const w=c.run;"
)


def described(wasm: bytes) -> dict:
    """What the JS engine reads from the module: its imports and exports."""
    script = (
        "const m = new WebAssembly.Module(Buffer.from(process.argv[1], 'hex'));"
        "console.log(JSON.stringify({imports: WebAssembly.Module.imports(m),"
        " exports: WebAssembly.Module.exports(m)}))"
    )
    out = subprocess.run(["node", "-e", script, wasm.hex()], check=True, capture_output=True)
    return json.loads(out.stdout)


class Shorten(unittest.TestCase):
    def test_every_import_is_renamed_in_the_module_and_the_glue_alike(self):
        wasm, glue = wasm_imports.shorten(MODULE, GLUE)
        seen = described(wasm)
        self.assertEqual(
            [(i["module"], i["name"], i["kind"]) for i in seen["imports"]],
            [("a", "a", "function"), ("a", "b", "memory"), ("a", "c", "global"), ("a", "d", "table")],
        )
        self.assertEqual(seen["exports"], [{"name": "run", "kind": "function"}])
        self.assertEqual(
            glue,
            "function k(){return{__proto__:null,a:{__proto__:null,"
            "a:function(){},b:function(){},c:function(){},d:function(){}}}}const w=c.run;",
        )
        self.assertLess(len(wasm), len(MODULE))

    def test_everything_but_the_import_names_is_kept_byte_for_byte(self):
        wasm, _ = wasm_imports.shorten(MODULE, GLUE)
        self.assertTrue(wasm.endswith(MODULE[MODULE.index(b"\x03\x02\x01\x00") :]))

    def test_a_glue_that_names_an_import_twice_or_not_at_all_stops_the_build(self):
        twice = GLUE.replace("const w=c.run;", "const w=c.__wbg_fetch_0123456789abcdef;")
        missing = GLUE.replace("__wbg_flag_0123456789abcdef:", "other:")
        for glue in (twice, missing):
            with self.assertRaisesRegex(ValueError, "exactly once"):
                wasm_imports.shorten(MODULE, glue)

    def test_the_split_loaders_imports_keep_their_names(self):
        # The app's main module imports each chunk's loader from
        # ./__wasm_split.js by the name that module exports (scripts/post_build.py):
        # renamed, the app could not link.
        loader = "./__wasm_split.js"
        load = "__wasm_split_load_case_detail"
        module = MODULE.replace(
            section(2, bytes([len(IMPORTS)]) + b"".join(name(GLUE_MODULE) + name(n) + d for n, d in IMPORTS)),
            section(
                2,
                bytes([len(IMPORTS) + 1])
                + b"".join(name(GLUE_MODULE) + name(n) + d for n, d in IMPORTS)
                + name(loader) + name(load) + b"\x00\x00",
            ),
        )
        glue = GLUE.replace("}}}const", f'}},"{loader}":U}}}}const')
        wasm, out = wasm_imports.shorten(module, glue)
        seen = [(i["module"], i["name"]) for i in described(wasm)["imports"]]
        self.assertEqual(seen[-1], (loader, load))
        self.assertEqual(seen[:4], [("a", "a"), ("a", "b"), ("a", "c"), ("a", "d")])
        self.assertIn(f'"{loader}":U', out)

    def test_a_file_that_is_not_wasm_is_refused(self):
        with self.assertRaisesRegex(ValueError, "not a wasm module"):
            wasm_imports.shorten(b"<html>", GLUE)

    def test_short_names_are_distinct_identifiers(self):
        names = [wasm_imports.short_name(n) for n in range(5000)]
        self.assertEqual(len(set(names)), len(names))
        self.assertTrue(all(n.isidentifier() or "$" in n for n in names))


if __name__ == "__main__":
    unittest.main()
