"""Rule-based verifiers with real checkers: math answers (``math-verify``) and code run in a
sandbox. Nothing heavy loads here; each module imports its checker where it is used.

- :mod:`rewardkit.verifiers.math`: the ``math`` ladder and :class:`MathJudge`;
- :mod:`rewardkit.verifiers.code`: the ``code`` ladder and :class:`CodeJudge`;
- :mod:`rewardkit.verifiers.sandbox`: untrusted programs in bubblewrap (``launcher`` runs inside);
- :mod:`rewardkit.verifiers.sandbox_fusion`: programs run by a remote SandboxFusion service;
- :mod:`rewardkit.verifiers.fallback`: an opt-in LLM judge for answers a verifier cannot read;
- :mod:`rewardkit.verifiers.workers`: verifier calls in worker processes with a wall-clock kill.
"""
