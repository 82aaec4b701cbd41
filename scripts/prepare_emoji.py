#!/usr/bin/python3
"""Builds the colour emoji data sets: Noto Color Emoji (Apache-2.0), Twemoji (CC-BY 4.0) or
Fluent Emoji Flat (MIT).

Usage: /usr/bin/python3 scripts/prepare_emoji.py [--set noto|twemoji|fluent] [OUT_DIR] [SIZE]
       (default: noto; data/emoji, data/emoji-twemoji or data/emoji-fluent; 16)

Needs Debian's `fonts-noto-color-emoji`, `python3-fonttools` and `python3-pil` (installed with
apt-get when missing; run it with Debian's /usr/bin/python3, which sees those packages).

Every colour bitmap in the font's CBDT table (3,926 PNGs of 136×128) is composited over white,
padded to a square, and box-downsampled to SIZE×SIZE RGB. The split is by base emoji: skin-tone,
gender and other ZWJ variants are GSUB ligatures whose first component is the base emoji, and
all glyphs of one base land on the same side (bases in hash order fill ~10 % of the images into
the test split),
so the test set holds emoji whose variants were never seen in training.

Twemoji (`--set twemoji`): the 64×64 PNGs of the npm package emoji-datasource-twitter (the
images CC-BY 4.0, Twitter, Inc. and other contributors; fetched with `npm pack` into
data/.cache), prepared the same way. Its base emoji is the first code point of each entry, its
skin tones with it; a base in Noto's test split is in Twemoji's test split too (the same emoji
is never on both sides across the sets), and the bases Noto lacks are split by the same rule.

Fluent (`--set fluent`): Microsoft's Fluent Emoji in their flat style (MIT), the SVGs of the npm
package @lobehub/fluent-emoji-flat (named by code points), rendered at 64×64 with librsvg's
rsvg-convert (Debian `librsvg2-bin`, installed when missing) and prepared and split as Twemoji.

Writes {train,t10k}-images-idx4-ubyte.gz ([N, SIZE, SIZE, 3] bytes) and
{train,t10k}-labels-idx1-ubyte.gz (all 0: the emoji have no classes), plus names.txt (glyph name
and base per image, in order, for reference); for Twemoji and Fluent also source.json, the set's name,
credit, licence and preparation, which the CLI copies into a model's manifest (Noto's are built
into the CLI).
"""
import gzip
import hashlib
import io
import json
import os
import struct
import subprocess
import sys

FONT = "/usr/share/fonts/truetype/noto/NotoColorEmoji.ttf"
TWEMOJI = "emoji-datasource-twitter@16.0.0"
FLUENT = "@lobehub/fluent-emoji-flat@1.1.0"
PACKAGES = ["fonts-noto-color-emoji", "python3-fonttools", "python3-pil"]
RSVG = "/usr/bin/rsvg-convert"


def ensure_packages(which):
    """Every set needs the Noto font (its test split decides the others'); Fluent also librsvg."""
    packages = PACKAGES + (["librsvg2-bin"] if which == "fluent" else [])
    try:
        import fontTools  # noqa: F401
        import PIL  # noqa: F401
        if os.path.exists(FONT) and (which != "fluent" or os.path.exists(RSVG)):
            return
    except ImportError:
        pass
    subprocess.check_call(["apt-get", "update", "-qq"])
    subprocess.check_call(["apt-get", "install", "-y", "-qq", "--no-install-recommends", *packages],
                          env={**os.environ, "DEBIAN_FRONTEND": "noninteractive"})
    if sys.executable != "/usr/bin/python3":
        os.execv("/usr/bin/python3", ["/usr/bin/python3", *sys.argv])


def base_of_glyphs(font):
    """Glyph name → base emoji (a code point like 'U+1F44B', or the glyph name itself)."""
    base = {}
    for code, glyph in font.getBestCmap().items():
        base.setdefault(glyph, f"U+{code:04X}")
    if "GSUB" in font:
        # Ligatures may build on other ligatures: resolve until nothing changes.
        ligatures = []
        for lookup in font["GSUB"].table.LookupList.Lookup:
            for sub in lookup.SubTable:
                sub = getattr(sub, "ExtSubTable", sub)
                for first, ligs in getattr(sub, "ligatures", {}).items():
                    ligatures.extend((first, lig.LigGlyph) for lig in ligs)
        for _ in range(4):
            for first, out in ligatures:
                if out not in base and first in base:
                    base[out] = base[first]
    return base


def to_rgb(png_bytes, size):
    from PIL import Image

    image = Image.open(io.BytesIO(png_bytes)).convert("RGBA")
    side = max(image.size)
    square = Image.new("RGBA", (side, side), (255, 255, 255, 0))
    square.paste(image, ((side - image.size[0]) // 2, (side - image.size[1]) // 2))
    white = Image.new("RGBA", square.size, (255, 255, 255, 255))
    composited = Image.alpha_composite(white, square).convert("RGB")
    return composited.resize((size, size), Image.BOX).tobytes()


def write_idx(path, data, dims):
    header = struct.pack(">BBBB", 0, 0, 0x08, len(dims)) + b"".join(struct.pack(">I", d) for d in dims)
    with gzip.open(path, "wb", compresslevel=6) as f:
        f.write(header + data)


def test_bases(counts, share=0.10):
    """Bases in a fixed pseudo-random order (by hash) go to the test split until it holds
    `share` of the images."""
    total = sum(counts.values())
    chosen, held = set(), 0
    for key in sorted(counts, key=lambda k: hashlib.sha256(k.encode()).hexdigest()):
        if held >= share * total:
            break
        if held + counts[key] <= 1.5 * share * total:
            chosen.add(key)
            held += counts[key]
    return chosen


def noto_glyphs():
    """(glyph name, base, PNG bytes) of every colour bitmap in the Noto font."""
    from fontTools.ttLib import TTFont

    font = TTFont(FONT)
    base = base_of_glyphs(font)
    strike = font["CBDT"].strikeData[0]
    glyphs = []
    for name in sorted(strike):
        data = getattr(strike[name], "imageData", None)
        if data and data.startswith(b"\x89PNG"):
            glyphs.append((name, base.get(name, name), data))
    return glyphs


def twemoji_glyphs(cache):
    """(image name, base, PNG bytes) of every Twemoji image, skin tones included."""
    import tarfile

    with tarfile.open(npm_tarball(TWEMOJI, cache)) as tar:
        entries = json.load(tar.extractfile("package/emoji.json"))
        glyphs = []
        for entry in entries:
            key = "U+" + entry["unified"].split("-")[0]
            for variant in [entry, *entry.get("skin_variations", {}).values()]:
                if not variant.get("has_img_twitter"):
                    continue
                member = f"package/img/twitter/64/{variant['image']}"
                glyphs.append((variant["image"], key, tar.extractfile(member).read()))
    return glyphs


def npm_tarball(spec, cache):
    """The npm package `spec` as a tarball in `cache`, fetched once with `npm pack`."""
    os.makedirs(cache, exist_ok=True)
    name, version = spec.rsplit("@", 1)
    tgz = os.path.join(cache, f"{name.lstrip('@').replace('/', '-')}-{version}.tgz")
    if not os.path.exists(tgz):
        subprocess.check_call(["npm", "pack", spec, "--silent", "--pack-destination", cache])
    return tgz


def fluent_glyphs(cache):
    """(file name, base, PNG bytes) of every Fluent Emoji Flat SVG, skin tones included,
    rendered at 64×64."""
    import tarfile

    glyphs = []
    with tarfile.open(npm_tarball(FLUENT, cache)) as tar:
        for member in sorted(tar.getmembers(), key=lambda m: m.name):
            name = os.path.basename(member.name)
            if not (member.name.startswith("package/assets/") and name.endswith(".svg")):
                continue
            svg = tar.extractfile(member).read()
            png = subprocess.run([RSVG, "--width", "64", "--height", "64", "--keep-aspect-ratio"],
                                 input=svg, capture_output=True, check=True).stdout
            glyphs.append((name, "U+" + name.split("-")[0].split(".")[0].upper(), png))
    return glyphs


def fluent_source(size):
    """The set's provenance, written to source.json: the fields of the Rust `DataSource`."""
    return {
        "name": "Fluent Emoji Flat",
        "credit": "Microsoft Corporation",
        "licence": "MIT",
        "url": "https://github.com/microsoft/fluentui-emoji",
        "description": f"Fluent Emoji, flat style (MIT, Microsoft; npm {FLUENT}): every SVG rendered at 64x64 "
        f"with rsvg-convert, composited on white and box-downsampled to {size}x{size} RGB, 8 bits per channel; "
        "split by base emoji (skin tones on the same side, every base of Noto's test split on the test side)",
    }


def twemoji_source(size):
    """The set's provenance, written to source.json: the fields of the Rust `DataSource`."""
    return {
        "name": "Twemoji",
        "credit": "Twitter, Inc. and other contributors",
        "licence": "CC-BY-4.0",
        "url": "https://github.com/jdecked/twemoji",
        "description": f"Twemoji 16.0 (CC-BY 4.0, Twitter, Inc. and other contributors; npm {TWEMOJI}): "
        f"every 64x64 image composited on white and box-downsampled to {size}x{size} RGB, 8 bits per channel; "
        "split by base emoji (skin tones on the same side, every base of Noto's test split on the test side)",
    }


def counts_of(glyphs):
    counts = {}
    for _, key, _ in glyphs:
        counts[key] = counts.get(key, 0) + 1
    return counts


def write_set(glyphs, test, out, size):
    splits = {"train": [], "t10k": []}
    for name, key, data in glyphs:
        splits["t10k" if key in test else "train"].append((name, key, to_rgb(data, size)))
    with open(os.path.join(out, "names.txt"), "w") as f:
        for split, items in splits.items():
            for name, key, _ in items:
                f.write(f"{split}\t{name}\t{key}\n")
    for split, items in splits.items():
        n = len(items)
        write_idx(os.path.join(out, f"{split}-images-idx4-ubyte.gz"), b"".join(i[2] for i in items), [n, size, size, 3])
        write_idx(os.path.join(out, f"{split}-labels-idx1-ubyte.gz"), bytes(n), [n])
        bases = len({i[1] for i in items})
        print(f"{split}: {n} images of {bases} base emoji -> {out}")


def main():
    args = sys.argv[1:]
    which = "noto"
    if args[:1] == ["--set"] and len(args) > 1:
        which, args = args[1], args[2:]
    sets = {"noto": "data/emoji", "twemoji": "data/emoji-twemoji", "fluent": "data/emoji-fluent"}
    if which not in sets:
        sys.exit(f"--set must be noto, twemoji or fluent, not {which}")
    out = args[0] if args else sets[which]
    size = int(args[1]) if len(args) > 1 else 16
    ensure_packages(which)
    os.makedirs(out, exist_ok=True)
    noto = noto_glyphs()
    noto_test = test_bases(counts_of(noto))
    if which == "noto":
        write_set(noto, noto_test, out, size)
        return
    cache = os.path.join("data", ".cache")
    glyphs, source = (twemoji_glyphs(cache), twemoji_source(size)) if which == "twemoji" \
        else (fluent_glyphs(cache), fluent_source(size))
    noto_bases = set(counts_of(noto))
    only_here = {k: n for k, n in counts_of(glyphs).items() if k not in noto_bases}
    write_set(glyphs, noto_test | test_bases(only_here), out, size)
    with open(os.path.join(out, "source.json"), "w") as f:
        json.dump(source, f, indent=2)
        f.write("\n")


if __name__ == "__main__":
    main()
