"""Evaluating robustness the way a reviewer asks for it (chapter 2): the per-sample worst case
over a list of attacks (AutoAttack's protocol), the sanity checks that flag an evaluation not
to be trusted (gradient masking, a huge budget that does not break the model), and two
defences that only mask gradients (2-bit quantisation, a random shift) to try them on."""

from advlib.robustness.masking import RandomShift, quantise
from advlib.robustness.sanity import (
    CHECKS,
    SanityWarning,
    check_black_box,
    check_gradients,
    check_huge_budget,
    check_randomised_output,
    check_softmax_output,
    run_model_checks,
)
from advlib.robustness.worst_case import (
    ATTACK_LISTS,
    CLEAN,
    AttackRun,
    EvalAttack,
    WorstCaseResult,
    apgd_ce,
    apgd_t,
    attack_list,
    square_attack,
    worst_case_evaluation,
)

__all__ = [
    "ATTACK_LISTS", "CHECKS", "CLEAN", "AttackRun", "EvalAttack", "RandomShift", "SanityWarning",
    "WorstCaseResult",
    "apgd_ce", "apgd_t", "attack_list", "check_black_box", "check_gradients", "check_huge_budget",
    "check_randomised_output", "check_softmax_output", "quantise", "run_model_checks", "square_attack",
    "worst_case_evaluation",
]
