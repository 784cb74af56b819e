"""Reference tar writer for the layer package's tests.

store OUT MTIME UID GID UNAME GNAME PATH...
    Writes a store layer the way nixpkgs' dockerTools does (see the package
    tests for the description this follows).
headers
    Reads one JSON object per line from stdin and prints, per line, the hex of
    TarInfo.tobuf() in PAX format, or "error" if tarfile refuses it.
"""

import itertools
import json
import pathlib
import sys
import tarfile


def stamp(info, mtime, uid, gid, uname, gname):
    info.mtime = mtime
    info.uid = uid
    info.gid = gid
    info.uname = uname
    info.gname = gname
    return info


def store(out, mtime, uid, gid, uname, gname, paths):
    owner = (int(mtime), int(uid), int(gid), uname, gname)
    with open(out, "wb") as sink, tarfile.open(fileobj=sink, mode="w|") as tar:
        for top in ("/nix", "/nix/store"):
            info = tarfile.TarInfo(top)
            info.type = tarfile.DIRTYPE
            info.mode = 0o755
            tar.addfile(stamp(info, *owner))
        for raw in paths:
            root = pathlib.Path(raw)
            if root.is_symlink():
                members = [root]
            else:
                members = itertools.chain([root], root.rglob("*"))
            for member in sorted(members):
                info = tar.gettarinfo(member)
                info.name = "/" + info.name
                if info.islnk():
                    # A second name for an inode already in the archive:
                    # store it again as a plain file.
                    info.type = tarfile.REGTYPE
                    info.linkname = ""
                    info.size = member.stat().st_size
                stamp(info, *owner)
                if info.isfile():
                    with open(member, "rb") as content:
                        tar.addfile(info, content)
                else:
                    tar.addfile(info)


def text(hexstr):
    return bytes.fromhex(hexstr).decode("utf-8", "surrogateescape")


def headers():
    for line in sys.stdin:
        spec = json.loads(line)
        info = tarfile.TarInfo()
        info.name = text(spec["name"])
        info.linkname = text(spec["linkname"])
        info.uname = text(spec["uname"])
        info.gname = text(spec["gname"])
        info.type = bytes([spec["type"]])
        for field in ("mode", "uid", "gid", "size", "mtime", "devmajor", "devminor"):
            setattr(info, field, spec[field])
        try:
            buf = info.tobuf(tarfile.PAX_FORMAT, "utf-8", "surrogateescape")
        except ValueError:
            print("error")
            continue
        print(buf.hex())


if __name__ == "__main__":
    if sys.argv[1] == "store":
        store(*sys.argv[2:8], sys.argv[8:])
    elif sys.argv[1] == "headers":
        headers()
    else:
        sys.exit("unknown mode " + sys.argv[1])
