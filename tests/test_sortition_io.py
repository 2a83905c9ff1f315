"""Reading and validating the Sortition Foundation format (hand-made broken variants)."""

from __future__ import annotations

import pytest

from weefsel.errors import InputError
from weefsel.participation.sortition.ilp import require_feasible
from weefsel.participation.sortition.io import load_instance

CATS = "category,feature,min,max\ngender,female,1,3\ngender,male,1,3\nage,young,1,3\nage,old,1,3\n"
PEOPLE = "id,gender,age,address\n" + "\n".join(
    f"p{i},{'female' if i % 2 else 'male'},{'young' if i % 3 else 'old'},street {i // 2}" for i in range(10))


def write(tmp_path, cats=CATS, people=PEOPLE):
    c, r = tmp_path / "categories.csv", tmp_path / "respondents.csv"
    c.write_text(cats, encoding="utf-8")
    r.write_text(people, encoding="utf-8")
    return c, r


def test_reads_ids_features_households(tmp_path):
    inst = load_instance(*write(tmp_path), 4, household_column="address")
    assert inst.n == 10 and inst.ids[0] == "p0"
    assert inst.people[1] == {"gender": "female", "age": "young"}
    assert inst.household_groups()[0] == [0, 1]
    assert inst.membership().sum() == 20          # two categories, one value each


def test_unknown_feature_value_names_row_and_column(tmp_path):
    bad = PEOPLE.replace("p3,female", "p3,vrouw")
    with pytest.raises(InputError, match=r"rij 5, kolom gender.*'vrouw'"):
        load_instance(*write(tmp_path, people=bad), 4)


def test_missing_category_column(tmp_path):
    bad = "\n".join(",".join(x for j, x in enumerate(line.split(",")) if j != 2)
                    for line in PEOPLE.splitlines())
    with pytest.raises(InputError, match="categoriekolom.*ontbreken.*age"):
        load_instance(*write(tmp_path, people=bad), 4)


@pytest.mark.parametrize("cats,pattern", [
    ("category,feature,min\ngender,female,1\n", "kolom.*ontbreken: max"),
    (CATS.replace("female,1,3", "female,x,3"), "rij 2, kolom min/max"),
    (CATS.replace("female,1,3", "female,4,3"), "min ≤ max"),
    (CATS + "gender,female,1,2\n", "dubbel quotum"),
])
def test_bad_categories(tmp_path, cats, pattern):
    with pytest.raises(InputError, match=pattern):
        load_instance(*write(tmp_path, cats=cats), 4)


def test_infeasible_at_a_glance(tmp_path):
    with pytest.raises(InputError, match="minima tellen op tot 6 > panelgrootte 4"):
        load_instance(*write(tmp_path, cats=CATS.replace("female,1,3", "female,3,3").replace("male,1,3", "male,3,3")), 4)
    with pytest.raises(InputError, match="female vraagt er minstens 6, maar de pool heeft er maar 5 .1 te weinig"):
        load_instance(*write(tmp_path, cats=CATS.replace("female,1,3", "female,6,9")), 8)
    with pytest.raises(InputError, match="groter dan de pool"):
        load_instance(*write(tmp_path), 11)
    with pytest.raises(InputError, match="huishouden-kolom 'adres' niet gevonden"):
        load_instance(*write(tmp_path), 4, household_column="adres")


def test_infeasible_across_categories_says_which_quota_and_by_how_many(tmp_path):
    # every woman is young: 3 women needed, but at most 1 young person allowed
    people = "id,gender,age\n" + "\n".join(
        [f"f{i},female,young" for i in range(4)] + [f"m{i},male,old" for i in range(4)])
    cats = "category,feature,min,max\ngender,female,3,4\ngender,male,0,4\nage,young,0,1\nage,old,0,4\n"
    inst = load_instance(*write(tmp_path, cats=cats, people=people), 4)
    with pytest.raises(InputError, match=r"(female \(min 3\).*2 personen te weinig|young \(max 1\).*2 personen te veel)"):
        require_feasible(inst)


def test_real_examples_load(data_dir):
    base = data_dir / "participation/sortition/citizensassemblies-replication/data"
    for name, k, n in (("example_small_20", 20, 200), ("example_large_200", 200, 2000)):
        inst = load_instance(base / name / "categories.csv", base / name / "respondents.csv", k)
        assert inst.n == n and inst.categories == ["gender", "leaning"]
