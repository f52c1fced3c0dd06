#!/usr/bin/env python3
"""Release archives, their checksums and the shell installer, the same way on every runner.

    python3 packaging/archive.py archive   <rust-target> <binary> <out-dir>
    python3 packaging/archive.py checksums <out-dir>
    python3 packaging/archive.py installer <version> <download-url> <out-file>

`archive` writes spaire-billing-<target>.tar.gz (.zip for Windows) holding
spaire-billing-<target>/spaire-billing[.exe] and README.md, plus <archive>.sha256 in the
`sha256sum` format. `checksums` gathers every .sha256 of a directory into sha256.sum.
`installer` fills in the version and download URL of packaging/install.sh.

Python rather than tar/zip/sha256sum because the release runs on Linux, macOS and Windows,
whose tools differ; the standard library is the same on all three.
"""

import hashlib
import json
import stat
import sys
import tarfile
import zipfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent


def die(message: str, hint: str = "") -> None:
    print(f"error: {message}", file=sys.stderr)
    if hint:
        print(f"hint: {hint}", file=sys.stderr)
    sys.exit(1)


def target_entry(rust_target: str) -> dict:
    targets = json.loads((HERE / "targets.json").read_text())["targets"]
    for entry in targets:
        if entry["rust"] == rust_target:
            return entry
    die(f"{rust_target} is not a release target", f"the targets are listed in {HERE / 'targets.json'}")
    raise AssertionError("unreachable")


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def archive(rust_target: str, binary: str, out_dir: str) -> None:
    entry = target_entry(rust_target)
    binary_path = Path(binary)
    if not binary_path.is_file():
        die(f"no binary at {binary_path}", "build it first: cargo build --profile dist --target <target>")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    top = f"spaire-billing-{rust_target}"
    exe = "spaire-billing.exe" if entry["os"] == "win32" else "spaire-billing"
    members = [(binary_path, f"{top}/{exe}", 0o755), (ROOT / "README.md", f"{top}/README.md", 0o644)]
    name = f"{top}.{entry['archive']}"
    path = out / name
    if entry["archive"] == "zip":
        with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as z:
            for src, arcname, mode in members:
                info = zipfile.ZipInfo.from_file(src, arcname)
                info.external_attr = (stat.S_IFREG | mode) << 16
                info.compress_type = zipfile.ZIP_DEFLATED
                z.writestr(info, src.read_bytes())
    else:
        with tarfile.open(path, "w:gz") as t:
            for src, arcname, mode in members:
                info = t.gettarinfo(str(src), arcname)
                info.mode = mode
                info.uid = info.gid = 0
                info.uname = info.gname = ""
                with src.open("rb") as f:
                    t.addfile(info, f)
    checksum = out / f"{name}.sha256"
    checksum.write_text(f"{sha256_of(path)}  {name}\n")
    print(path)


def checksums(out_dir: str) -> None:
    out = Path(out_dir)
    lines = [p.read_text() for p in sorted(out.glob("*.sha256"))]
    if not lines:
        die(f"no .sha256 files in {out}", "run `archive` for each target first")
    (out / "sha256.sum").write_text("".join(lines))
    print(out / "sha256.sum")


def installer(version: str, download_url: str, out_file: str) -> None:
    text = (HERE / "install.sh").read_text()
    for placeholder in ("@VERSION@", "@DOWNLOAD_URL@"):
        if placeholder not in text:
            die(f"packaging/install.sh has no {placeholder} placeholder left to fill in")
    text = text.replace("@VERSION@", version).replace("@DOWNLOAD_URL@", download_url.rstrip("/"))
    out = Path(out_file)
    out.write_text(text)
    out.chmod(0o755)
    print(out)


def main(argv: list) -> None:
    commands = {"archive": (archive, 3), "checksums": (checksums, 1), "installer": (installer, 3)}
    if not argv or argv[0] not in commands or len(argv) - 1 != commands[argv[0]][1]:
        die("usage: archive.py archive <rust-target> <binary> <out-dir> | checksums <out-dir> | installer <version> <download-url> <out-file>")
    function, _ = commands[argv[0]]
    function(*argv[1:])


if __name__ == "__main__":
    main(sys.argv[1:])
