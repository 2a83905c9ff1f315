"""Method of Equal Shares (Peters & Skowron) with add1 completion and the comparison step.

Exact (Fraction) runs decide; a float run only searches the add1 increments, and any float
decision closer than a relative 1e-9 is recomputed exactly (see docs/burgerbegroting.md).
"""

from __future__ import annotations

from fractions import Fraction

import numpy as np

from weefsel.errors import InputError
from weefsel.participation.budgeting.election import Election
from weefsel.participation.budgeting.greedy import greedy, greedy_order
from weefsel.participation.budgeting.outcome import Outcome, Step


class _Mes:
    """One fixed-budget run of the Method of Equal Shares (Peters & Skowron 2020).

    Voters with equal remaining money form a class, so each project is evaluated over a few
    (class, weight) groups instead of every supporter: exact and fast.
    """

    def __init__(self, e: Election, total: Fraction, cost_utility: bool):
        self.e = e
        self.cost_utility = cost_utility
        n = max(e.n_voters, 1)
        self.class_of = np.zeros(n, dtype=np.int64)
        self.cls_budget: list[Fraction] = [Fraction(total) / n]
        self.cls_id: dict[Fraction, int] = {self.cls_budget[0]: 0}
        self.endowment = self.cls_budget[0]
        self.maxw = [int(w.max()) + 1 if len(w) else 1 for w in e.weights]

    def _groups(self, j: int):
        sup = self.e.supporters[j]
        w = self.e.weights[j]
        mw = self.maxw[j]
        keys = self.class_of[sup] * mw + w
        uniq, inv, counts = np.unique(keys, return_inverse=True, return_counts=True)
        return uniq // mw, uniq % mw, counts, inv

    def money(self, j: int) -> Fraction:
        cls, _, counts, _ = self._groups(j)
        b = self.cls_budget
        return sum((b[int(k)] * int(c) for k, c in zip(cls, counts)), Fraction(0))

    def evaluate(self, j: int) -> tuple[Fraction, Fraction] | None:
        """(rho, q) for project j, or None if its supporters cannot pay for it.

        Supporters pay ``min(budget, q * weight)``; q is the smallest payment per unit weight
        that covers the cost. rho = q / cost under cost utilities, q under approval utilities.
        """
        cost = self.e.costs[j]
        cls, ws, counts, _ = self._groups(j)
        b = self.cls_budget
        groups = [(b[int(k)], int(w), int(c)) for k, w, c in zip(cls, ws, counts)]
        if sum((bb * c for bb, _, c in groups), Fraction(0)) < cost:
            return None
        groups.sort(key=lambda g: g[0] / g[1])
        rest = cost
        weight = sum(w * c for _, w, c in groups)
        q = rest / weight
        for bb, w, c in groups:
            q = rest / weight
            if bb < q * w:
                rest -= bb * c
                weight -= w * c
            else:
                break
        rho = q / cost if self.cost_utility else q
        return rho, q

    def pay(self, j: int, q: Fraction) -> None:
        cls, ws, _, inv = self._groups(j)
        new_ids = np.empty(len(cls), dtype=np.int64)
        for g, (k, w) in enumerate(zip(cls, ws)):
            bb = self.cls_budget[int(k)]
            nb = bb - q * int(w)
            if nb < 0:
                nb = Fraction(0)
            cid = self.cls_id.get(nb)
            if cid is None:
                cid = len(self.cls_budget)
                self.cls_budget.append(nb)
                self.cls_id[nb] = cid
            new_ids[g] = cid
        self.class_of[self.e.supporters[j]] = new_ids[inv]

    def run(self) -> tuple[list[int], dict[int, tuple[Fraction, int]]]:
        """The winners in order, and per project (rho, round) when funded."""
        e = self.e
        # lower bound on rho for each candidate (rho only grows as money is spent)
        bound: dict[int, Fraction] = {}
        for j in range(len(e.project_ids)):
            if e.costs[j] > 0 and len(e.supporters[j]) > 0:
                total_w = int(e.weights[j].sum())
                q0 = e.costs[j] / total_w
                bound[j] = q0 / e.costs[j] if self.cost_utility else q0
        winners: list[int] = []
        info: dict[int, tuple[Fraction, int]] = {}
        while bound:
            best: list[tuple[Fraction, Fraction, int]] = []
            for j in sorted(bound, key=lambda x: (bound[x], x)):
                if best and bound[j] > best[0][0]:
                    break
                r = self.evaluate(j)
                if r is None:
                    del bound[j]
                    continue
                rho, q = r
                bound[j] = rho
                if not best or rho < best[0][0]:
                    best = [(rho, q, j)]
                elif rho == best[0][0]:
                    best.append((rho, q, j))
            if not best:
                break
            rho, q, j = min(best, key=lambda t: (-e.votes[t[2]], e.costs[t[2]], t[2]))
            winners.append(j)
            info[j] = (rho, len(winners))
            self.pay(j, q)
            del bound[j]
        # zero-cost projects with support are free: fund them (equalshares.net skips them; none in Pabulib)
        return winners, info


class _Uncertain(Exception):
    """A float decision was too close to call: recompute that run exactly."""


_REL = 1e-9


_FLOAT_CACHE: dict[int, tuple] = {}


def _float_cache(e: Election) -> tuple:
    """Float costs, float weights, all-approval flag, first-round bounds (per election object)."""
    key = id(e)
    hit = _FLOAT_CACHE.get(key)
    if hit is None or hit[0] is not e:
        costs = [float(c) for c in e.costs]
        wf = [w.astype(np.float64) for w in e.weights]
        unit = all(bool((w == 1).all()) for w in e.weights)
        tw = [float(w.sum()) for w in wf]
        ranks = [np.arange(len(w), 0, -1, dtype=np.float64) for w in wf]
        hit = (e, (costs, wf, unit, tw, ranks))
        _FLOAT_CACHE.clear()
        _FLOAT_CACHE[key] = hit
    return hit[1]


class _MesFloat:
    """The same run in floating point, used only to *search* the add1 increments quickly.

    Every decision whose margin is below a relative 1e-9 raises _Uncertain (the caller then
    runs the exact version). Round-one ties are computed as ``rest / (weight * cost)`` so
    that exactly tied projects give bitwise equal floats and reach the same tie-break.
    """

    def __init__(self, e: Election, total: float, cost_utility: bool):
        self.e = e
        self.cost_utility = cost_utility
        n = max(e.n_voters, 1)
        self.budget = np.full(n, total / n)
        cache = _float_cache(e)
        self.costs, self.wf, self.unit, self.bound0, self.ranks = cache

    def evaluate(self, j: int):
        cost = self.costs[j]
        b = self.budget[self.e.supporters[j]]
        if self.unit and len(b) <= 64:  # small: plain Python beats numpy call overhead
            bl = sorted(b.tolist())
            money = sum(bl)
            if abs(money - cost) <= _REL * cost:
                raise _Uncertain
            if money < cost:
                return None
            paid = 0.0
            left = len(bl)
            for x in bl:
                q = (cost - paid) / left
                if x >= q:
                    break
                paid += x
                left -= 1
            if left == 0:  # only by rounding when money ~ cost
                raise _Uncertain
            rest = cost - paid
            rho = rest / (left * cost) if self.cost_utility else rest / left
            return rho, rest / left
        if self.unit:
            bs = np.sort(b)
            cs = np.cumsum(bs)
            money = float(cs[-1])
            if abs(money - cost) <= _REL * cost:
                raise _Uncertain
            if money < cost:
                return None
            paid = cs - bs
            wrem = self.ranks[j]                      # k, k-1, ..., 1
            q = (cost - paid) / wrem
            hit = bs >= q
            k = int(np.argmax(hit))
            if not hit[k]:
                raise _Uncertain
        else:
            w = self.wf[j]
            money = float(b.sum())
            if abs(money - cost) <= _REL * cost:
                raise _Uncertain
            if money < cost:
                return None
            order = np.argsort(b / w, kind="stable")
            bs = b[order]
            ws = w[order]
            paid = np.cumsum(bs) - bs
            wrem = float(ws.sum()) - (np.cumsum(ws) - ws)
            q = (cost - paid) / wrem
            hit = bs >= q * ws
            k = int(np.argmax(hit))
            if not hit[k]:
                raise _Uncertain
        rest = cost - float(paid[k])
        if self.cost_utility:
            rho = rest / (float(wrem[k]) * cost)
        else:
            rho = rest / float(wrem[k])
        return rho, float(q[k])

    def run(self, stop_above: float | None = None) -> list[int]:
        e = self.e
        bound: dict[int, float] = {}
        for j in range(len(e.project_ids)):
            if e.costs[j] > 0 and len(e.supporters[j]) > 0:
                tw = self.bound0[j]
                bound[j] = 1.0 / tw if self.cost_utility else self.costs[j] / tw
        winners: list[int] = []
        spent = 0.0
        while bound:
            best: list[tuple[float, float, int]] = []
            for j in sorted(bound, key=lambda x: (bound[x], x)):
                if best and bound[j] > best[0][0] * (1 + _REL):
                    break
                r = self.evaluate(j)
                if r is None:
                    del bound[j]
                    continue
                rho, q = r
                bound[j] = rho
                if not best or rho < best[0][0]:
                    if best and rho >= best[0][0] * (1 - _REL):
                        raise _Uncertain
                    best = [(rho, q, j)]
                elif rho == best[0][0]:
                    best.append((rho, q, j))
                elif rho <= best[0][0] * (1 + _REL):
                    raise _Uncertain
            if not best:
                break
            rho, q, j = min(best, key=lambda t: (-e.votes[t[2]], e.costs[t[2]], t[2]))
            winners.append(j)
            sup = e.supporters[j]
            self.budget[sup] = np.maximum(self.budget[sup] - q * self.wf[j], 0.0)
            del bound[j]
            spent += self.costs[j]
            if stop_above is not None and spent > stop_above:
                break
        return winners


def _cost(e: Election, js: list[int]) -> Fraction:
    return sum((e.costs[j] for j in js), Fraction(0))


def _add1_search(e: Election, cost_utility: bool, increment: Fraction, supported: set[int],
                 winners: list[int]) -> Fraction:
    """The largest total budget reached by the add1 increments (the real budget if none works).

    Steps are searched with the float run; a step whose float run is too close to call is
    run exactly. The final total and the rejected step after it are always confirmed exactly
    (if confirmation fails, the whole search is redone exactly).
    """
    n = max(e.n_voters, 1)
    step = increment * n
    limit = float(e.budget)

    def search(exact_only: bool) -> Fraction:
        total = e.budget
        current = set(winners)
        while current != supported:
            nxt = total + step
            w2: list[int] | None = None
            if not exact_only:
                try:
                    w2 = _MesFloat(e, float(nxt), cost_utility).run(stop_above=limit)
                except _Uncertain:
                    w2 = None
            if w2 is None:
                w2, _ = _Mes(e, nxt, cost_utility).run()
            if _cost(e, w2) > e.budget:
                break
            total, current = nxt, set(w2)
        return total

    total = search(False)
    # confirm exactly: the chosen step fits, the next one does not (or nothing is left to add)
    w_last, _ = _Mes(e, total, cost_utility).run()
    ok = _cost(e, w_last) <= e.budget
    if ok and set(w_last) != supported:
        w_next, _ = _Mes(e, total + step, cost_utility).run()
        ok = _cost(e, w_next) > e.budget
    return total if ok else search(True)


def mes(e: Election, *, cost_utility: bool = True, completion: str = "add1",
        comparison: bool = False, increment: Fraction = Fraction(1)) -> Outcome:
    """Method of Equal Shares with an optional completion and comparison step.

    completion ``none``: one run with the real budget. ``add1``: raise every voter's
    endowment by ``increment`` (one currency unit) as long as the outcome of the raised run
    still costs at most the real budget; keep the last such outcome (equalshares.net
    "Add1"). ``add1u``: add1, then fill with greedy. If all projects together fit the budget,
    the plain run is used (as equalshares.net does). ``comparison``: compare with the
    greedy outcome; if more voters approve strictly more funded projects under greedy than
    under equal shares, greedy's outcome is used (the step used in Wieliczka 2023).
    """
    supported = {j for j in range(len(e.project_ids)) if len(e.supporters[j]) and e.costs[j] > 0}
    run = _Mes(e, e.budget, cost_utility)
    winners, info = run.run()
    endowment = run.endowment
    final = run
    if completion in ("add1", "add1u") and _cost(e, list(range(len(e.costs)))) > e.budget:
        total = _add1_search(e, cost_utility, increment, supported, winners)
        if total != e.budget:
            final = _Mes(e, total, cost_utility)
            winners, info = final.run()
            endowment = final.endowment
    elif completion not in ("none", "add1", "add1u"):
        raise InputError(f"unknown completion {completion!r}", expected="none, add1 or add1u")
    name = "equalshares" + ("" if cost_utility else "-approval") + ("" if completion == "none" else "/" + completion)
    steps: dict[str, Step] = {}
    for j, pid in enumerate(e.project_ids):
        if j in info:
            steps[pid] = Step(pid, True, final.money(j), e.votes[j], rho=info[j][0], note=f"ronde {info[j][1]}")
        else:
            steps[pid] = Step(pid, False, final.money(j), e.votes[j],
                              note="geen stemmen" if j not in supported else "")
    chosen = list(winners)
    if completion == "add1u":
        left = e.budget - _cost(e, chosen)
        for j in greedy_order(e):
            if j not in chosen and e.scores[j] > 0 and e.costs[j] <= left:
                chosen.append(j)
                left -= e.costs[j]
                steps[e.project_ids[j]] = Step(e.project_ids[j], True, left + e.costs[j], e.votes[j], note="aanvulling")
    out = Outcome(name, [e.project_ids[j] for j in chosen], e.budget, _cost(e, chosen), steps, per_voter=endowment,
                  used_rule=name)
    if comparison:
        out.rule = name + "-comparison"
        g = greedy(e)
        pref_mes, pref_greedy = _compare(e, chosen, [e.index[p] for p in g.selected])
        out.comparison = (f"{pref_mes} stemmers hebben meer gefinancierde favorieten onder equal shares, "
                          f"{pref_greedy} onder greedy")
        if pref_greedy > pref_mes:
            g.rule, g.used_rule, g.comparison = out.rule, "greedy", out.comparison
            return g
    return out


def _compare(e: Election, a: list[int], b: list[int]) -> tuple[int, int]:
    """How many voters approve strictly more projects of ``a`` than of ``b``, and vice versa."""
    n = max(e.n_voters, 1)
    sa = np.zeros(n, dtype=np.int64)
    sb = np.zeros(n, dtype=np.int64)
    for j in a:
        sa[e.supporters[j]] += 1
    for j in b:
        sb[e.supporters[j]] += 1
    return int((sa > sb).sum()), int((sb > sa).sum())
