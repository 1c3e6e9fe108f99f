"""What a validation proved, as hashes: the program file, its cell file and every URDF (and mesh) they use, by
content, and the cellctl source that planned the motions. A validation report carries the fingerprint; `deploy`
runs a program only if the fingerprint of the files it is given now is the same, and names what changed if not."""

from __future__ import annotations

import hashlib
import json
import os
import re
from pathlib import Path

import cellctl

MESH = re.compile(r"""filename\s*=\s*["']([^"']+)["']""")


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _files(program) -> list[Path]:
    """The program, its cell, and every URDF of the cell's robots, tools, fixtures and parts, with the mesh files
    those URDFs name (where they resolve to files)."""
    cell = program.cell
    urdfs = {r.urdf for r in cell.robots.values()} | {r.tool.urdf for r in cell.robots.values() if r.tool}
    urdfs |= {b.urdf for b in [*cell.fixtures.values(), *cell.parts.values()]}
    files = [Path(program.file), Path(cell.file)]
    for urdf in sorted(Path(u).resolve() for u in urdfs):
        files.append(urdf)
        for name in MESH.findall(urdf.read_text(errors="replace")):
            mesh = (urdf.parent / name.removeprefix("file://")).resolve()
            if mesh.is_file():
                files.append(mesh)
    return files


def source_hash() -> str:
    """One hash over cellctl's own Python source (relative paths and contents), which plans and runs the motions."""
    root = Path(cellctl.__file__).resolve().parent
    digest = hashlib.sha256()
    for path in sorted(root.rglob("*.py")):
        digest.update(path.relative_to(root).as_posix().encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()


def fingerprint(program) -> dict:
    """{"sha256": one hash of all below, "files": {path relative to the program's folder: sha256 of its content},
    "cellctl": sha256 of cellctl's source}. The same files give the same fingerprint wherever they lie."""
    base = Path(program.file).resolve().parent
    files = {}
    for path in _files(program):
        files[Path(os.path.relpath(Path(path).resolve(), base)).as_posix()] = _sha(Path(path).read_bytes())
    code = source_hash()
    overall = _sha(json.dumps({"files": files, "cellctl": code}, sort_keys=True).encode())
    return {"sha256": overall, "files": dict(sorted(files.items())), "cellctl": code}


def differences(validated: dict, now: dict) -> list[str]:
    """What differs between a validated fingerprint and the current one, in words (empty when they match)."""
    if validated.get("sha256") == now["sha256"]:
        return []
    old, new = validated.get("files", {}), now["files"]
    out = [f"{name} changed since it was validated" for name in sorted(set(old) & set(new)) if old[name] != new[name]]
    out += [f"{name} is used now but was not in the validated run" for name in sorted(set(new) - set(old))]
    out += [f"{name} was used in the validated run but is not now" for name in sorted(set(old) - set(new))]
    if validated.get("cellctl") != now["cellctl"]:
        out.append("cellctl itself changed since the validation (its source differs), so its motions may differ")
    return out or ["the fingerprint differs (the report's fingerprint was edited or is malformed)"]
