"""Method of Equal Shares (Peters & Skowron) with the add1 completions and the comparison step.

Every run is exact: money is held as integers over a common denominator, floats only rank
the candidates, and any float call closer than a relative 1e-9 is priced again exactly
(_MesFast; _Mes is the plain exact-fraction definition it is tested against). See
docs/burgerbegroting.md.
"""

from __future__ import annotations

import math
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


_TOL = 1e-9

#: add1 raises every voter's endowment while the outcome fits; add1-first also stops at the
#: first outcome that exhausts the budget (pabutools); add1u = add1 then a greedy fill.
COMPLETIONS = ("none", "add1", "add1-first", "add1u")


_FLOAT_CACHE: dict[int, tuple] = {}


def _float_cache(e: Election) -> tuple:
    """Float costs and weights, all-approval flag, total weights, ranks, int weights (per election)."""
    key = id(e)
    hit = _FLOAT_CACHE.get(key)
    if hit is None or hit[0] is not e:
        costs = [float(c) for c in e.costs]
        wf = [w.astype(np.float64) for w in e.weights]
        unit = all(bool((w == 1).all()) for w in e.weights)
        tw = [float(w.sum()) for w in wf]
        ranks = [np.arange(len(w), 0, -1, dtype=np.float64) for w in wf]
        wobj = [w.astype(object) for w in e.weights]
        hit = (e, (costs, wf, unit, tw, ranks, wobj))
        _FLOAT_CACHE.clear()
        _FLOAT_CACHE[key] = hit
    return hit[1]


_CLOSE = object()


class _MesFast:
    """One Equal Shares run with exact decisions at float speed (used for every run).

    Each voter's money is held exactly, as a Python int numerator (numpy object array) over
    the denominator of the round in which it last changed (``D[t]``; every later ``D`` is a
    multiple, so only the payers of a round are rescaled), and as the nearest float. Each round the
    candidates are priced in floats from those nearest floats (relative error far below
    1e-12). A price within a relative 1e-9 of the cheapest one, and a supporters' total
    within 1e-9 of the cost, is priced again exactly; the winner is always priced exactly
    (the float order proposes who pays everything, integer arithmetic checks it) and paid
    exactly. So every decision and every amount is that of the exact definition (_Mes),
    which the tests compare it with.
    """

    def __init__(self, e: Election, total: Fraction, cost_utility: bool):
        self.e = e
        self.cost_utility = cost_utility
        n = max(e.n_voters, 1)
        total = Fraction(total)
        self.endowment = total / n
        self.D = total.denominator * n               # the current denominator
        self.dens = [self.D]                          # denominator of each round
        self.t = np.zeros(n, dtype=np.int64)          # round of each voter's last change
        self._fac = np.array([1], dtype=object)       # D // dens[t], per round t
        self.num = np.empty(n, dtype=object)
        self.num[:] = total.numerator
        self.fb = np.full(n, total.numerator / self.D)
        self.costs, self.wf, self.unit, self.tw, self.ranks, self.wobj = _float_cache(e)

    # -- exact -------------------------------------------------------------------------------
    def current(self, sup: np.ndarray) -> np.ndarray:
        """Exact numerators over the current D for the voters ``sup``."""
        return self.num[sup] * self._fac[self.t[sup]]

    def money(self, j: int) -> Fraction:
        """Exact money left with project j's supporters."""
        sup = self.e.supporters[j]
        return Fraction(int(self.current(sup).sum()) if len(sup) else 0, self.D)

    def exact_price(self, j: int) -> tuple | None:
        """(rest, W, order, k, B) or None when j's supporters cannot pay for it.

        With supporters sorted by money per unit weight (``order``), the first ``k`` pay all
        they have and the others ``q * weight`` with q = rest / (W * D * cost_den); B holds
        their money over D * cost_den.
        """
        e = self.e
        sup = e.supporters[j]
        c = e.costs[j]
        cd = c.denominator
        C = c.numerator * self.D                   # cost over D*cd
        B = self.current(sup) * cd if cd != 1 else self.current(sup)
        if int(B.sum()) < C:
            return None
        w = self.wobj[j]
        order = np.argsort(self.fb[sup] / self.wf[j], kind="stable")
        k = self._float_split(self.fb[sup][order], self.wf[j][order], float(c))
        got = None if k is None else self._check(B[order], w[order], C, k)
        if got is None:                            # the float order misled: exact keys (rare)
            keys = [Fraction(int(a), int(b)) for a, b in zip(B, w)]
            order = np.array(sorted(range(len(keys)), key=keys.__getitem__), dtype=np.int64)
            Bs, ws = B[order], w[order]
            rest, W, k = C, int(ws.sum()), 0
            while k < len(Bs) and Bs[k] * W < rest * ws[k]:
                rest -= int(Bs[k])
                W -= int(ws[k])
                k += 1
            got = self._check(Bs, ws, C, k)
            if got is None:
                raise AssertionError("no exact Equal Shares split")
        rest, W = got
        return rest, W, order, k, B

    @staticmethod
    def _float_split(bs: np.ndarray, ws: np.ndarray, cost: float) -> int | None:
        """Float guess of the first (sorted) supporter who does not pay all they have."""
        paid = np.cumsum(bs) - bs
        wrem = float(ws.sum()) - (np.cumsum(ws) - ws)
        q = (cost - paid) / wrem
        hit = bs >= q * ws
        k = int(np.argmax(hit))
        return k if hit[k] else None

    @staticmethod
    def _check(Bs: np.ndarray, ws: np.ndarray, C: int, k: int) -> tuple[int, int] | None:
        """(rest, W) if position k is exactly the split: the first k pay all, the rest q*w."""
        rest = C - int(Bs[:k].sum()) if k else C
        W = int(ws[k:].sum())
        if W <= 0 or rest <= 0:
            return None
        if k and not (Bs[:k] * W <= ws[:k] * rest).all():
            return None
        if not (Bs[k:] * W >= ws[k:] * rest).all():
            return None
        return rest, W

    def exact_rho(self, j: int, price) -> Fraction:
        """rho = q / cost (cost utilities) or q (approval utilities), exactly."""
        rest, W = price[0], price[1]
        q = Fraction(rest, W * self.D * self.e.costs[j].denominator)
        return q / self.e.costs[j] if self.cost_utility else q

    def pay(self, j: int, price) -> None:
        """Apply the exact payment of project j (its supporters' money changes, D grows)."""
        rest, W, order, k, B = price
        sup = self.e.supporters[j]
        scale = self.e.costs[j].denominator * W
        g = math.gcd(rest, scale)
        scale //= g
        self.D *= scale
        self.dens.append(self.D)
        self._fac = np.append(self._fac * scale, np.array([1], dtype=object))
        srt = sup[order]
        self.num[srt[:k]] = 0
        self.num[srt[k:]] = (B[order[k:]] * W - self.wobj[j][order[k:]] * rest) // g
        self.t[sup] = len(self.dens) - 1
        self.fb[sup] = (self.num[sup] / self.D).astype(np.float64)

    # -- float -------------------------------------------------------------------------------
    def float_price(self, j: int):
        """Float rho of j, None if certainly unaffordable, _CLOSE if too close to call."""
        cost = self.costs[j]
        b = self.fb[self.e.supporters[j]]
        if self.unit:
            money = float(b.sum())
            if money < cost * (1 - _TOL):
                return None
            if money <= cost * (1 + _TOL):
                return _CLOSE
            bs = np.sort(b)
            paid = np.cumsum(bs) - bs
            wrem = self.ranks[j]
            q = (cost - paid) / wrem
            hit = bs >= q
        else:
            w = self.wf[j]
            money = float(b.sum())
            if money < cost * (1 - _TOL):
                return None
            if money <= cost * (1 + _TOL):
                return _CLOSE
            order = np.argsort(b / w, kind="stable")
            bs = b[order]
            ws = w[order]
            paid = np.cumsum(bs) - bs
            wrem = self.tw[j] - (np.cumsum(ws) - ws)
            q = (cost - paid) / wrem
            hit = bs >= q * ws
        k = int(np.argmax(hit))
        if not hit[k]:
            return _CLOSE
        qk = float(q[k])
        return qk / cost if self.cost_utility else qk

    def run(self, stop_above: Fraction | None = None) -> tuple[list[int], dict[int, tuple[Fraction, int]]]:
        """The winners in order and per winner (rho, round); stops once spending passes
        ``stop_above`` (the add1 search only needs to know that)."""
        e = self.e
        bound: dict[int, float] = {}
        for j in range(len(e.project_ids)):
            if e.costs[j] > 0 and len(e.supporters[j]) > 0:
                bound[j] = 1.0 / self.tw[j] if self.cost_utility else self.costs[j] / self.tw[j]
        winners: list[int] = []
        info: dict[int, tuple[Fraction, int]] = {}
        spent = Fraction(0)
        while bound:
            best = math.inf
            near: list[int] = []        # candidates within 1e-9 of the cheapest
            exact: dict[int, tuple] = {}
            for j in sorted(bound, key=lambda x: (bound[x], x)):
                if bound[j] > best * (1 + _TOL):
                    break
                r = self.float_price(j)
                if r is _CLOSE:
                    p = self.exact_price(j)
                    if p is None:
                        del bound[j]
                        continue
                    exact[j] = p
                    r = float(self.exact_rho(j, p))
                elif r is None:
                    del bound[j]
                    continue
                bound[j] = r
                if r < best:
                    best = r
                near.append(j)
            near = [j for j in near if bound[j] <= best * (1 + _TOL)]
            if not near:
                break
            if len(near) == 1:
                j = near[0]
                price = exact.get(j) or self.exact_price(j)
                if price is None:          # cannot happen: the float margin excludes it
                    raise AssertionError("float and exact affordability disagree")
                rho = self.exact_rho(j, price)
            else:                          # too close for floats: exact prices and tie-break
                cands = []
                for j in near:
                    p = exact.get(j) or self.exact_price(j)
                    if p is None:
                        del bound[j]
                        continue
                    cands.append((self.exact_rho(j, p), -e.votes[j], e.costs[j], j, p))
                if not cands:
                    continue
                rho, _, _, j, price = min(cands, key=lambda t: t[:4])
            winners.append(j)
            info[j] = (rho, len(winners))
            self.pay(j, price)
            del bound[j]
            spent += e.costs[j]
            if stop_above is not None and spent > stop_above:
                break
        return winners, info


def _cost(e: Election, js: list[int]) -> Fraction:
    return sum((e.costs[j] for j in js), Fraction(0))


def _exhaustive(e: Election, chosen: list[int], supported: set[int]) -> bool:
    """No supported project left out still fits what the chosen ones leave of the budget."""
    left = e.budget - _cost(e, chosen)
    have = set(chosen)
    return not any(e.costs[j] <= left for j in supported if j not in have)


def _add1(e: Election, cost_utility: bool, increment: Fraction, supported: set[int],
          plain: _MesFast, first: bool) -> _MesFast:
    """The run at the last raised endowment whose outcome still fits the real budget.

    ``first`` (``add1-first``): also stop at the first outcome that exhausts the budget
    (pabutools' ``voter_budget_increment``). Without it (``add1``, the default) the raising
    goes on while the outcome fits and not every supported project is funded; this is what
    reproduces the official results of Assen 2024, Swiecie 2023 and Wieliczka 2023.
    Every raised run is a full exact run (_MesFast), stopped early once it overspends.
    """
    step = Fraction(increment) * max(e.n_voters, 1)
    total, last = e.budget, plain
    current, _ = plain.result
    while set(current) != supported:
        if first and _exhaustive(e, current, supported):
            break
        run = _MesFast(e, total + step, cost_utility)
        w2, info = run.run(stop_above=e.budget)
        if _cost(e, w2) > e.budget:
            break
        run.result = (w2, info)
        total, last, current = total + step, run, w2
    return last


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
    if completion not in COMPLETIONS:
        raise InputError(f"unknown completion {completion!r}", expected=", ".join(COMPLETIONS))
    supported = {j for j in range(len(e.project_ids)) if len(e.supporters[j]) and e.costs[j] > 0}
    final = _MesFast(e, e.budget, cost_utility)
    final.result = final.run()
    if completion != "none" and _cost(e, list(range(len(e.costs)))) > e.budget:
        final = _add1(e, cost_utility, increment, supported, final, first=completion == "add1-first")
    winners, info = final.result
    endowment = final.endowment
    name = "equalshares" + ("" if cost_utility else "-approval") + ("" if completion == "none" else "/" + completion)
    steps: dict[str, Step] = {}
    for j, pid in enumerate(e.project_ids):
        if j in info:
            steps[pid] = Step(pid, True, final.money(j), e.votes[j], rho=info[j][0], note=f"ronde {info[j][1]}")
        else:
            steps[pid] = Step(pid, False, final.money(j), e.votes[j],
                              note=_unfunded_note(e, j))
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


def _unfunded_note(e: Election, j: int) -> str:
    """Why an unfunded project never competed: no ballots, or only 0-point ones."""
    if len(e.supporters[j]):
        return ""
    return "geen stemmen" if e.votes[j] == 0 else "geen punten"


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
