"""What a Terraform root rendered: its resources as `terraform show -json` reports them, each with the source block
that declared it (so a check can read the comments next to it)."""

import json
import pathlib
import re
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any


@dataclass
class Resource:
    address: str
    type: str
    values: dict[str, Any]
    source: str  # the text of the `resource "TYPE" "NAME" {...}` block, "" when not found


def _module_dirs(root: pathlib.Path) -> dict[str, pathlib.Path]:
    """Module key (stack.ci_access) -> its directory, from what `terraform init` recorded."""
    manifest = root / ".terraform" / "modules" / "modules.json"
    if not manifest.exists():
        return {"": root}
    modules = json.loads(manifest.read_text())["Modules"]
    return {m["Key"]: (root / m["Dir"]).resolve() for m in modules}


def _block(directory: pathlib.Path, rtype: str, name: str) -> str:
    start = re.compile(rf'^resource\s+"{re.escape(rtype)}"\s+"{re.escape(name)}"\s*\{{', re.M)
    for tf in sorted(directory.glob("*.tf")):
        text = tf.read_text()
        m = start.search(text)
        if m:
            end = re.search(r"^\}", text[m.end() :], re.M)
            return text[m.start() : m.end() + (end.end() if end else len(text))]
    return ""


def resources(root: pathlib.Path) -> Iterator[Resource]:
    """Every managed resource in ROOT's state."""
    shown = json.loads(
        subprocess.run(
            ["terraform", f"-chdir={root}", "show", "-json"], check=True, capture_output=True, text=True
        ).stdout
    )
    dirs = _module_dirs(root)

    def walk(module: dict[str, Any]) -> Iterator[Resource]:
        for r in module.get("resources", []):
            if r["mode"] != "managed":
                continue
            key = ".".join(re.findall(r"module\.([A-Za-z0-9_-]+)", r["address"]))
            yield Resource(r["address"], r["type"], r["values"], _block(dirs.get(key, root), r["type"], r["name"]))
        for child in module.get("child_modules", []):
            yield from walk(child)

    yield from walk(shown.get("values", {}).get("root_module", {}))
