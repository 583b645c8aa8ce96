"""The calibration panel of the Gatys defaults: 16 content/style pairs from ``../shared/data``.

Bold styles (van Gogh, Munch, Kandinsky, Matisse, a mosaic, woodcuts, ukiyo-e, Klimt, Seurat)
and soft ones (Monet, Turner, Vermeer, Levitan), on landscapes, cities, animals, objects and a
portrait. ``bench_gatys.py --panel`` runs the default on it; ``tune_gatys.py`` compares settings.
"""

from __future__ import annotations

from pathlib import Path

DATA = Path(__file__).resolve().parents[2] / "shared" / "data"

# (content, style, kind)
PANEL: list[tuple[str, str, str]] = [
    ("content/golden_gate_bridge_fog.jpg", "styles/vincent_van_gogh__the_starry_night.jpg", "bold"),
    ("content/new_york_skyline_sunset.jpg", "styles/edvard_munch__the_scream.jpg", "bold"),
    ("content/colonnade_walkway.jpg", "styles/wassily_kandinsky__composition_vii.jpg", "bold"),
    ("portraits/woman_smiling.png", "styles/henri_matisse__woman_with_a_hat.jpg", "bold"),
    ("content/cat_chelsea.png", "styles/unknown_roman_mosaicist__ducks_mosaic_palazzo_massimo_rome.jpg", "bold"),
    ("content/beagle_puppy.jpg", "styles/felix_vallotton__portrait_of_a_man_woodcut.jpg", "bold"),
    ("content/big_wave_surfing.jpg", "styles/katsushika_hokusai__the_great_wave_off_kanagawa.jpg", "bold"),
    ("content/cafe_terrace_chairs.jpg", "styles/gustav_klimt__the_kiss.jpg", "bold"),
    ("content/yellow_sports_car.jpg",
     "styles/georges_seurat__a_sunday_afternoon_on_the_island_of_la_grande_jatte.jpg", "bold"),
    ("content/odeon_of_herodes_atticus.jpg", "styles/vincent_van_gogh__wheatfield_with_cypresses.jpg", "bold"),
    ("content/elephant.png", "styles/edvard_munch__mans_head_in_womans_hair_woodcut.png", "bold"),
    ("content/eiffel_tower.jpg", "styles/claude_monet__impression_sunrise.jpg", "soft"),
    ("content/coast_guard_ship_harbour.jpg",
     "styles/j_m_w_turner__the_wreck_of_a_transport_ship_a_k_a_shipwreck_of_the_minotaur.jpg", "soft"),
    ("content/bakery_display.jpg", "styles/johannes_vermeer__the_milkmaid.jpg", "soft"),
    ("content/cow_in_fog.jpg", "styles/claude_monet__water_lilies.jpg", "soft"),
    ("content/cyclists_in_forest.jpg", "styles/isaac_levitan__march.jpg", "soft"),
]


def pairs(n: int | None = None) -> list[tuple[Path, Path, str]]:
    """The first ``n`` panel pairs (all by default) as absolute paths."""
    rows = PANEL if n is None else PANEL[:n]
    return [(DATA / c, DATA / s, k) for c, s, k in rows]
