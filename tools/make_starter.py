"""Regenerate the starter collection shipped in ``src/atelier/assets/styles/`` from ``../shared/data``.

Run from the repository root (takes about a minute on 2 CPU cores):

    PYTHONPATH=src python tools/make_starter.py [--data ../shared/data]

For every work in ``PICKS`` it reads the file named there from the data folder, checks its
sha256 against ``MANIFEST.csv``, shrinks it to a long side of at most ``LONG_SIDE`` px
(Lanczos), saves it as ``<slug>.jpg`` (JPEG quality ``QUALITY``, no EXIF), and records the
manifest's provenance and public-domain note in ``paintings.json``. It then computes each
painting's style descriptor (the default :class:`atelier.descriptors.DescriptorConfig`, the
same as ``atelier library build``) into ``descriptors.npy``, so the starter style library needs
no VGG pass on first use. Years come from the manifest's note ("work dated X per the source")
or, for first-round rows that carry none, from the ``year`` given below (``year_source``
says which).
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import io
import json
import re
import sys
from pathlib import Path

import numpy as np

LONG_SIDE = 768
QUALITY = 85
BUDGET_BYTES = 6_000_000
OUT = Path(__file__).resolve().parent.parent / "src" / "atelier" / "assets" / "styles"

# slug, file under styles/ in the data folder, year when the manifest's note has none
PICKS: list[tuple[str, str, str | None]] = [
    ("starry-night", "vincent_van_gogh__the_starry_night.jpg", "1889"),
    ("cafe-terrace-at-night", "vincent_van_gogh__cafe_terrace_at_night.jpg", "1888"),
    ("wheat-field-with-crows", "vincent_van_gogh__wheat_field_with_crows.jpg", None),
    ("impression-sunrise", "claude_monet__impression_sunrise.jpg", "1872"),
    ("water-lilies", "claude_monet__water_lilies.jpg", None),
    ("great-wave", "katsushika_hokusai__the_great_wave_off_kanagawa.jpg", "c. 1831"),
    ("takiyasha-the-witch", "utagawa_kuniyoshi__takiyasha_the_witch_and_the_skeleton_spectre.jpg", None),
    ("flowering-branch", "sakai_hoitsu__flowering_branch.jpg", None),
    ("the-scream", "edvard_munch__the_scream.jpg", "1893"),
    ("munch-woodcut", "edvard_munch__mans_head_in_womans_hair_woodcut.png", "1896"),
    ("the-kiss", "gustav_klimt__the_kiss.jpg", "1907-08"),
    ("adele-bloch-bauer", "gustav_klimt__portrait_of_adele_bloch_bauer_i.jpg", "1907"),
    ("composition-vii", "wassily_kandinsky__composition_vii.jpg", "1913"),
    ("composition-viii", "wassily_kandinsky__composition_viii.jpg", "1923"),
    ("roman-mosaic", "unknown_roman_mosaicist__ducks_mosaic_palazzo_massimo_rome.jpg", None),
    ("vallotton-woodcut", "felix_vallotton__portrait_of_a_man_woodcut.jpg", None),
    ("dore-engraving", "gustave_dore__the_temptation_of_jesus_bible_engraving.png", None),
    ("shipwreck", "j_m_w_turner__the_wreck_of_a_transport_ship_a_k_a_shipwreck_of_the_minotaur.jpg", "c. 1810"),
    ("girl-with-a-pearl-earring", "johannes_vermeer__girl_with_a_pearl_earring.jpg", "c. 1665"),
    ("the-milkmaid", "johannes_vermeer__the_milkmaid.jpg", "c. 1658"),
    ("la-grande-jatte", "georges_seurat__a_sunday_afternoon_on_the_island_of_la_grande_jatte.jpg", "1884-86"),
    ("woman-with-a-hat", "henri_matisse__woman_with_a_hat.jpg", "1905"),
    ("dance", "henri_matisse__dance.jpg", "1909-10"),
    ("udnie", "francis_picabia__udnie_young_american_girl_the_dance.jpg", "1913"),
    ("mondrian-composition-vii", "piet_mondrian__tableau_no_2_composition_no_vii.jpg", "1913"),
    ("jean-metzinger", "robert_delaunay__portrait_of_jean_metzinger.jpg", "1906"),
    ("blue-dancers", "edgar_degas__blue_dancers.jpg", "c. 1897"),
    ("arlesiennes", "paul_gauguin__arlesiennes_mistral.jpg", None),
    ("sleeping-gypsy", "henri_rousseau__the_sleeping_gypsy.jpg", "1897"),
    ("the-ninth-wave", "ivan_aivazovsky__the_ninth_wave.jpg", "1850"),
    ("hunters-in-the-snow", "pieter_bruegel_the_elder__the_hunters_in_the_snow.jpg", "1565"),
    ("the-night-watch", "rembrandt__the_night_watch.jpg", "1642"),
    ("birth-of-venus", "sandro_botticelli__the_birth_of_venus.jpg", "c. 1485"),
    ("the-hay-wain", "john_constable__the_hay_wain.jpg", None),
    ("third-of-may", "francisco_goya__the_third_of_may_1808.jpg", "1814"),
    ("demon-seated", "mikhail_vrubel__the_demon_seated.jpg", "1890"),
]


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def year_of(note: str, fallback: str | None) -> tuple[str | None, str]:
    """The work's year from the manifest note, else ``fallback``; and where it came from."""
    m = re.search(r"work dated (.+?) per the source", note)
    if m:
        return m.group(1), "manifest"
    return fallback, "editor" if fallback else "unknown"


def shrink(src: Path) -> bytes:
    """The JPEG bytes of ``src`` with its long side at most ``LONG_SIDE`` (Lanczos, no metadata)."""
    from atelier.io.images import load_image, resize_long_side

    img = load_image(src)
    if max(img.size) > LONG_SIDE:
        img = resize_long_side(img, LONG_SIDE)
    buf = io.BytesIO()
    img.save(buf, "JPEG", quality=QUALITY, optimize=True)
    return buf.getvalue()


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", default="../shared/data", help="the data folder with styles/ and MANIFEST.csv")
    args = ap.parse_args()
    data = Path(args.data)
    with open(data / "MANIFEST.csv", newline="", encoding="utf-8") as fh:
        manifest = {r["file"]: r for r in csv.DictReader(fh)}

    from atelier.io.images import load_image
    from atelier.library.descriptors import DescriptorConfig, backbone_id, describe

    OUT.mkdir(parents=True, exist_ok=True)
    for old in OUT.glob("*.jpg"):
        old.unlink()
    cfg = DescriptorConfig().validated()
    paintings, vectors, total = [], [], 0
    for slug, name, year in PICKS:
        row = manifest[f"styles/{name}"]
        original = (data / row["file"]).read_bytes()
        if sha256(original) != row["sha256"]:
            raise SystemExit(f"{name}: sha256 differs from MANIFEST.csv")
        jpeg = shrink(data / row["file"])
        path = OUT / f"{slug}.jpg"
        path.write_bytes(jpeg)
        total += len(jpeg)
        img = load_image(path)
        vectors.append(describe(img, cfg))
        when, when_source = year_of(row["licence_note"], year)
        paintings.append({
            "slug": slug, "file": path.name, "title": row["title"], "artist": row["artist"],
            "year": when, "year_source": when_source, "movement": row["movement"],
            "width": img.width, "height": img.height, "bytes": len(jpeg), "sha256": sha256(jpeg),
            "source": {"repo": row["source_repo"], "path": row["source_path"], "commit": row["source_commit"],
                       "data_file": row["file"], "original_sha256": row["sha256"],
                       "original_size": [int(row["width"]), int(row["height"])]},
            "public_domain": row["licence_note"],
        })
        print(f"{slug:28s} {img.width}x{img.height} {len(jpeg) / 1e3:6.0f} kB  {row['artist']}: {row['title']}")
    np.save(OUT / "descriptors.npy", np.stack(vectors).astype("<f4"), allow_pickle=False)
    doc = {
        "about": "Atelier's starter collection: public-domain works from ../shared/data (see MANIFEST.csv "
                 f"there), shrunk to <= {LONG_SIDE} px, JPEG quality {QUALITY}. Regenerate with tools/make_starter.py.",
        "descriptor": {**cfg.to_dict(), "backbone_id": backbone_id(cfg), "file": "descriptors.npy"},
        "paintings": paintings,
    }
    (OUT / "paintings.json").write_text(json.dumps(doc, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    total += (OUT / "descriptors.npy").stat().st_size + (OUT / "paintings.json").stat().st_size
    print(f"{len(paintings)} paintings, {total / 1e6:.2f} MB in all (budget {BUDGET_BYTES / 1e6:.0f} MB)")
    return 0 if total <= BUDGET_BYTES else 1


if __name__ == "__main__":
    sys.exit(main())
