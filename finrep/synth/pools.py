"""Pools of names and places, built once per run with a seeded Faker.

Faker is slow per call, so it is called a few thousand times here and never per row: rows
draw indexes into these pools with numpy.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np
from faker import Faker

from finrep.schema import STATES

# Resident population by state, millions (US Census 2020, rounded): weights the states of
# customers' cities.
STATE_POPULATION = {
    "AL": 5.0, "AK": 0.7, "AZ": 7.2, "AR": 3.0, "CA": 39.5, "CO": 5.8, "CT": 3.6, "DE": 1.0,
    "DC": 0.7, "FL": 21.5, "GA": 10.7, "HI": 1.5, "ID": 1.8, "IL": 12.8, "IN": 6.8, "IA": 3.2,
    "KS": 2.9, "KY": 4.5, "LA": 4.7, "ME": 1.4, "MD": 6.2, "MA": 7.0, "MI": 10.1, "MN": 5.7,
    "MS": 3.0, "MO": 6.2, "MT": 1.1, "NE": 2.0, "NV": 3.1, "NH": 1.4, "NJ": 9.3, "NM": 2.1,
    "NY": 20.2, "NC": 10.4, "ND": 0.8, "OH": 11.8, "OK": 4.0, "OR": 4.2, "PA": 13.0,
    "RI": 1.1, "SC": 5.1, "SD": 0.9, "TN": 6.9, "TX": 29.1, "UT": 3.3, "VT": 0.6, "VA": 8.6,
    "WA": 7.7, "WV": 1.8, "WI": 5.9, "WY": 0.6,
}  # fmt: skip

EMAIL_DOMAINS = ("gmail.com", "yahoo.com", "outlook.com", "hotmail.com", "icloud.com",
                 "aol.com", "proton.me", "example.com")  # fmt: skip

_N_FIRST = 700
_N_LAST = 700
_N_CITIES = 1200


@dataclass(frozen=True)
class Pools:
    first_names: tuple[str, ...]
    last_names: tuple[str, ...]
    first_email: tuple[str, ...]  # lower-case ASCII of first_names, for e-mail addresses
    last_email: tuple[str, ...]
    cities: tuple[str, ...]  # city name
    city_state: np.ndarray  # index into schema.STATES of each city
    city_weight: np.ndarray  # probability of each city (population-weighted by state)


def _email_part(name: str) -> str:
    part = re.sub(r"[^a-z]", "", name.lower())
    return part or "client"


def build_pools(seed: int) -> Pools:
    """Names and cities from Faker (en_US) seeded with `seed`: same seed, same pools."""
    fake = Faker("en_US")
    fake.seed_instance(seed)
    # Distinct values, in the order drawn (common names come up often and so come first).
    first = tuple(dict.fromkeys(fake.first_name() for _ in range(_N_FIRST)))
    last = tuple(dict.fromkeys(fake.last_name() for _ in range(_N_LAST)))
    cities = tuple(dict.fromkeys(fake.city() for _ in range(_N_CITIES)))
    n_cities = len(cities)

    rng = np.random.default_rng([seed, 99])
    population = np.array([STATE_POPULATION[s] for s in STATES])
    state_p = population / population.sum()
    # Every state gets cities; each city inherits its state's population share.
    city_state = np.concatenate(
        [np.arange(len(STATES)), rng.choice(len(STATES), n_cities - len(STATES), p=state_p)]
    )
    per_state = np.bincount(city_state, minlength=len(STATES))
    city_weight = state_p[city_state] / per_state[city_state]
    city_weight = city_weight / city_weight.sum()
    return Pools(
        first_names=first,
        last_names=last,
        first_email=tuple(_email_part(n) for n in first),
        last_email=tuple(_email_part(n) for n in last),
        cities=cities,
        city_state=city_state,
        city_weight=city_weight,
    )
