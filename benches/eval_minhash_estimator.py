"""Bias and spread of mmdedup's Jaccard estimate on set pairs of known similarity.

For each set size and target J, ``--trials`` pairs of random token sets with exactly that
Jaccard similarity (both sets of the same size, fresh tokens every trial) get signatures from
``mmdedup.minhash_sets`` with a different seed each; the estimate is the fraction of equal slots.
A MinHash family that behaves like independent random permutations gives an unbiased estimate
whose standard deviation is the binomial ``sqrt(J (1 - J) / num_perm)``: the ``sd / binomial``
column should be close to 1 (its own sampling error with 400 trials is about 3.5%).

Run ``python benches/eval_minhash_estimator.py`` (a few seconds; ``--trials 2000`` about 20 s).
"""

from __future__ import annotations

import argparse

import mmdedup
import numpy as np


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--trials", type=int, default=400)
    parser.add_argument("--num-perm", type=int, default=128)
    parser.add_argument("--scheme", default="mmdedup")
    args = parser.parse_args(argv)
    rng = np.random.default_rng(0)
    k = args.num_perm
    print(
        f"mmdedup {mmdedup.__version__}, scheme {args.scheme}, num_perm {k}, {args.trials} trials"
    )
    head = f"{'size':>6} {'J':>6} {'mean est':>9} {'bias':>8} {'sd':>7} {'binomial':>8} {'sd/binom':>8}"
    print(head)
    print("-" * len(head))
    for size in (20, 200, 2000):
        for target in (0.5, 0.8, 0.9):
            # |A| = |B| = size and |A ∩ B| = common give J = common / (2 size - common).
            common = round(size * 2 * target / (1 + target))
            j = common / (2 * size - common)
            est = np.empty(args.trials)
            for t in range(args.trials):
                toks = [f"t{v}" for v in rng.integers(0, 2**62, size=2 * size - common)]
                sig = mmdedup.minhash_sets(
                    [toks[:size], toks[:common] + toks[size:]],
                    num_perm=k,
                    seed=t + 1,
                    scheme=args.scheme,  # type: ignore[arg-type]
                )
                est[t] = (sig[0] == sig[1]).mean()
            binom = np.sqrt(j * (1 - j) / k)
            print(
                f"{size:>6} {j:>6.3f} {est.mean():>9.4f} {est.mean() - j:>+8.4f} "
                f"{est.std():>7.4f} {binom:>8.4f} {est.std() / binom:>8.2f}"
            )


if __name__ == "__main__":
    main()
