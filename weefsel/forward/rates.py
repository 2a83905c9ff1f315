"""Age grid and the default demographic rates of the projection (national CBS figures).

The projection runs on 18 five-year age groups (0-4, 5-9, ..., 80-84, 85+) and one-year
steps. The KWB publishes five bands per buurt (0-15, 15-25, 25-45, 45-65, 65+; 85984NED);
their edges fall on five-year edges, so a band is split into its five-year groups by the
national within-band shares below (the "documented split", docs/forward.md).

All values are *rounded approximations* of published national CBS figures, typed in here
(no download at run time) and replaceable per gemeente through the scenario file
(``rates:`` block). They are defaults for a monitor, not a forecast of their own.
"""

from __future__ import annotations

import numpy as np

N_AGE = 18
AGE_LABELS = [f"{5 * g}-{5 * g + 4}" for g in range(N_AGE - 1)] + ["85+"]
AGE_LOWER = np.array([5 * g for g in range(N_AGE)], dtype=float)
AGE_UPPER = np.array([5 * g + 5 for g in range(N_AGE - 1)] + [101], dtype=float)  # exclusive

#: the KWB age bands (85984NED) as (variable stem, first group, last group + 1)
KWB_BANDS = {
    "0-14": ("k_0Tot15Jaar", 0, 3),
    "15-24": ("k_15Tot25Jaar", 3, 5),
    "25-44": ("k_25Tot45Jaar", 5, 9),
    "45-64": ("k_45Tot65Jaar", 9, 13),
    "65+": ("k_65JaarOfOuder", 13, 18),
}
BAND_NAMES = list(KWB_BANDS)

#: population of the Netherlands on 1 January 2024 by five-year group, thousands,
#: rounded to 10k (CBS StatLine 7461BEV "Bevolking; geslacht, leeftijd en burgerlijke
#: staat, 1 januari"). Used only for the within-band split.
NL_POPULATION_2024 = np.array([870, 905, 960, 1060, 1130, 1180, 1160, 1100, 1060, 1080,
                               1250, 1290, 1200, 1070, 1000, 820, 530, 430], dtype=float)

#: one-year probability of dying by five-year group, both sexes (CBS StatLine 37360NED
#: "Levensverwachting; geslacht, leeftijd", overlevingstafel 2023, rounded). Gives about
#: 9.5 deaths per 1,000 on the 2024 age structure (CBS: ~169,000 deaths, 9.4 per 1,000).
MORTALITY = np.array([0.0008, 0.0001, 0.0001, 0.0002, 0.0003, 0.0003, 0.0004, 0.0006,
                      0.0009, 0.0015, 0.0025, 0.0040, 0.0065, 0.0105, 0.0170, 0.0300,
                      0.0570, 0.1500])

#: births per woman per year by five-year group of the mother (CBS StatLine 37201
#: "Geboorte; kerncijfers" / vruchtbaarheid naar leeftijd 2023, rounded): total
#: fertility 5 × sum = 1.43 children per woman (CBS 2023: 1.43).
FERTILITY = np.zeros(N_AGE)
FERTILITY[3:10] = [0.002, 0.020, 0.077, 0.114, 0.059, 0.012, 0.002]
#: share of women in the fertile groups (no sex split at buurt level in the KWB base)
FEMALE_SHARE = 0.5

#: share of residents who leave their buurt in a year, by five-year group; rounded from
#: CBS StatLine 37230ned / 60048ned ("verhuisde personen naar leeftijd"): about 1.7
#: million moves a year (~10% of residents), peaking at 20-29 and rising again at 80+
#: (moves into care).
OUT_MIGRATION = np.array([0.12, 0.08, 0.06, 0.08, 0.20, 0.22, 0.15, 0.10, 0.07, 0.06,
                          0.05, 0.05, 0.05, 0.04, 0.04, 0.05, 0.07, 0.10])

#: age make-up of people moving INTO new-build dwellings: young families (children and
#: 25-39). Shape after CBS/WoON movers by age; weefsel assumption, normalised.
INMOVER_NEW = np.array([0.10, 0.07, 0.05, 0.03, 0.08, 0.16, 0.16, 0.11, 0.07, 0.05, 0.04,
                        0.03, 0.02, 0.015, 0.01, 0.005, 0.0, 0.0])
INMOVER_NEW = INMOVER_NEW / INMOVER_NEW.sum()

#: age make-up of people moving into the EXISTING stock (the national movers' profile,
#: CBS 60048ned, rounded; normalised).
INMOVER_EXISTING = np.array([0.08, 0.05, 0.04, 0.05, 0.14, 0.17, 0.12, 0.08, 0.06, 0.05,
                             0.04, 0.03, 0.03, 0.025, 0.02, 0.02, 0.02, 0.02])
INMOVER_EXISTING = INMOVER_EXISTING / INMOVER_EXISTING.sum()

#: persons per newly built dwelling (first occupants). A weefsel assumption checked
#: against the seeds: 100,000 dwellings and "ruim 200.000" residents in Flevoland by 2050
#: (004 §2.3) with a shrinking household size in the existing stock.
OCCUPANCY_NEW = 2.3
#: yearly change of persons per dwelling in the existing stock: -0.17% (PBL/CBS Regionale
#: bevolkings- en huishoudensprognose 2022-2050: average household 2.12 -> ~2.03).
OCCUPANCY_TREND = -0.0017
#: persons per dwelling where an area has neither dwellings nor household size (CBS 2024:
#: 17.9 M residents in 8.2 M households ~ 2.12 in households; 8.1 M dwellings)
OCCUPANCY_DEFAULT = 2.15


def within_band_shares(reference: np.ndarray = NL_POPULATION_2024) -> np.ndarray:
    """(18,) share of each five-year group within its KWB band (sums to 1 per band)."""
    shares = np.zeros(N_AGE)
    for _, lo, hi in KWB_BANDS.values():
        shares[lo:hi] = reference[lo:hi] / reference[lo:hi].sum()
    return shares


def band_matrix() -> np.ndarray:
    """(18, 5) 0/1 matrix summing five-year groups into the KWB bands."""
    m = np.zeros((N_AGE, len(KWB_BANDS)))
    for b, (_, lo, hi) in enumerate(KWB_BANDS.values()):
        m[lo:hi, b] = 1.0
    return m


def age_weights(lo: float, hi: float) -> np.ndarray:
    """(18,) share of each five-year group whose ages fall in [lo, hi] (whole years,
    inclusive), assuming ages are spread evenly within a group (85+ spans 85-100)."""
    lo_e, hi_e = float(lo), float(hi) + 1.0
    overlap = np.clip(np.minimum(AGE_UPPER, hi_e) - np.maximum(AGE_LOWER, lo_e), 0, None)
    return overlap / (AGE_UPPER - AGE_LOWER)
