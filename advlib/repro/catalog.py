"""The book's chapters: their parameters and the targets their runs are judged by.

Each target names its source precisely (:data:`advlib.repro.spec.SOURCE_KINDS`): the talk
(S0, S3), a text read in full (S2), an abstract, a README, published raw data, or this
book's own claim about its run. Every judging sentence of a chapter's prose carries a
``{claim}`` role naming one of these targets, and ``expect`` records what that prose says,
so that at class scale a run that makes a sentence false fails (see
:func:`advlib.repro.record.finish_chapter`).
"""

from __future__ import annotations

import dataclasses

from advlib.models.robustbench_zoo import PUBLISHED_CIFAR10_LINF
from advlib.repro.spec import (
    COMMON,
    NOT_SHOWN,
    READ_FROM_RUN,
    Chapter,
    Parameter,
    Target,
    abstract,
    data,
    design,
    read,
    readme,
    register,
    talk,
)

N_EVAL = Parameter("n_eval", int, 300, "test images attacked for the tables", minimum=10, maximum=10000)
EPOCHS = Parameter("epochs", int, 0, "training epochs of each model (0: the recipe default)", minimum=0, maximum=300)

_SURVEY_C1 = read("survey S2, C1", "an undefended network can be driven to 0 % accuracy")
_SURVEY_BIM = read("survey S2, section 3", "BIM was designed to produce stronger adversarial examples than FGSM")
_MI = abstract("Dong et al. 2018", "momentum makes adversarial examples more transferable "
                                   "(results from the NIPS 2017 attack competitions)")
_DI = readme("Xie et al. 2019, cihangxie/DI-2-FGSM",
             "input diversity makes adversarial examples much more transferable than I-FGSM "
             "(the README also names FGSM; not tested here)")


def _as_measured(targets: tuple[Target, ...], **expect: bool | str) -> tuple[Target, ...]:
    """``targets`` with what a scale's text says about some of them (the paper's claim stays the
    source; ``expect`` records whether this book's run at that scale reproduces it)."""
    unknown = set(expect) - {target.key for target in targets}
    if unknown:
        raise ValueError(f"no such targets: {sorted(unknown)}")
    return tuple(dataclasses.replace(target, expect=expect.get(target.key, target.expect)) for target in targets)


_CH01_CLASS = (
    Target("clean_accuracy", ">", 0.97, design("the SmallCNN reads more than 97 % of the test digits")),
    Target("pgd_accuracy_max_eps", "<", 0.05, _SURVEY_C1),
    Target("pgd_accuracy_min_eps", ">", 0.5,
           design("at eps 0.1 (about 25 grey levels) PGD leaves more than half of the digits read right")),
    Target("fgsm_minus_pgd_accuracy_max_eps", ">", 0.1, _SURVEY_BIM),
    Target("stroke_change", "<", 0.0, design("the perturbation shown dims the digits' strokes")),
    Target("background_change", ">", 0.0, design("the perturbation shown brightens the background")),
    Target("targeted_success", ">", 0.9, design("targeted PGD reaches the chosen class for over 90 %")),
    Target("cw_success", ">", 0.95, design("C&W-L2 finds an adversarial example for over 95 %")),
    Target("mi_transfer_gain", ">", 0.0, _MI, expect=NOT_SHOWN),
    Target("di_transfer_gain", ">", 0.0, _DI, expect=False),
    Target("difgsm_minus_ifgsm_white_box", ">", 0.0,
           design("at eps 0.2 DI2-FGSM leaves more digits read right on the source model than I-FGSM")),
    Target("imagenet_target_probability", ">", 0.5,
           design("a 2/255 targeted perturbation makes EfficientNet-Lite0 answer 'gibbon' for the cat")),
)

ADVERSARIAL_EXAMPLES = register(
    Chapter(
        slug="01_adversarial_examples",
        title="Adversarial examples",
        parameters=(
            *COMMON,
            N_EVAL,
            Parameter("attack_steps", int, 10, "iterations of the iterative attacks", minimum=1, maximum=1000),
            EPOCHS,
        ),
        # With the reference recipe's 60,000 training digits, all 10,000 test digits: intervals
        # roughly a sixth as wide as on 300 digits by 1/sqrt(n), though the width also depends on
        # the networks, which differ between the two runs.
        reference={"n_eval": 10000},
        targets={
            "class": _CH01_CLASS,
            # The reference run's text is the class text, whose readings are glued: publishing
            # refuses a run that disagrees. Set after a first, unpublished reference run (networks
            # trained on all 60,000 digits): momentum's gain above zero, input diversity's
            # interval around zero, PGD at eps 0.1 leaving 31 % of the digits read right.
            "reference": _as_measured(_CH01_CLASS, pgd_accuracy_min_eps=False, mi_transfer_gain=True,
                                      di_transfer_gain=NOT_SHOWN),
            "full": (
                Target("pgd_accuracy_max_eps", "<", 0.05, _SURVEY_C1),
                Target("fgsm_minus_pgd_accuracy_max_eps", ">", 0.1, _SURVEY_BIM),
                Target("mi_transfer_gain", ">", 0.0, _MI),
                Target("di_transfer_gain", ">", 0.0, _DI),
            ),
        },
    )
)

# the zoo models whose published numbers the book holds, comma-separated without spaces
_ZOO_LIST = "({0})(,({0}))*".format("|".join(PUBLISHED_CIFAR10_LINF))
# Not RobustBench's "AutoAttack improved almost all evaluations": that is about published
# evaluations of other models, and an equal accuracy (a difference of 0) does not reproduce it.
_AUTOATTACK = design("the worst case over APGD-CE, APGD-T and Square (AutoAttack's attacks without FAB-T; below full "
                     "scale with fewer APGD-T target classes and Square queries) is at least as strong as PGD-20: it "
                     "leaves at most PGD-20's accuracy on the same images")
_CHECKS_FIRE = design("the sanity checks (after AutoAttack's and ART's) flag the gradient-masked model")
_CHECKS_QUIET = design("the sanity checks stay quiet on the honestly evaluated models")
_FGSM_AT_ONLY = read("survey S2, C4", "FGSM adversarial training makes a model robust to FGSM only, not to PGD")

_CH02_CLASS = (
    Target("pgd_at_error_reduction", ">", 3.0,
           read("survey S2, C5", "PGD adversarial training (Madry et al.) is the robust baseline; "
                "here: it cuts the error under PGD more than 3 times")),
    # judged on a paired bootstrap over the table's images; the text glues the side it lies on
    Target("fgsm_rs_minus_pgd_at_robust", ">", -0.05,
           abstract("Wong et al. 2020", "FGSM adversarial training with random initialisation is as "
                    "effective as PGD-based training"), expect=READ_FROM_RUN),
    # One wall-clock timing per model: 0.34 to 0.40 on an AVX2 machine, 0.50 on an AVX-512 one in
    # one of three runs, so the text glues the side this run fell on instead of pinning it.
    Target("fgsm_rs_cost_over_pgd_at_cost", "<", 0.5,
           abstract("Wong et al. 2020", "... at significantly lower cost"), expect=READ_FROM_RUN),
    # A timing too: 4.4 to 5.1 in class and reference runs, 6.8 in another reference run on the same
    # machine, so the text glues the side of an interval over the run's epochs.
    Target("pgd_at_cost_ratio", ">", 6.0,
           read("survey S2, section 4", "PGD-10 adversarial training costs 10 times or more than standard "
                "training; k + 1 = 6 for our PGD-5 is our extrapolation"), expect=READ_FROM_RUN),
    Target("fgsm_at_large_fgsm_minus_pgd", ">", 0.5, _FGSM_AT_ONLY),
    Target("fgsm_at_large_fgsm_minus_clean", "~=", 0.0,
           design("FGSM-AT at eps 0.3 scores within 0.1 of its clean accuracy against FGSM"),
           tolerance=0.1),
    # With Wong et al.'s MNIST random start (not clipped before the step). With the start clipped,
    # as in this book's earlier FGSM-RS, the class run's check never exceeded 0.18.
    Target("fgsm_rs_large_final_epoch_check", ">", 0.5,
           design("FGSM-RS at eps 0.3 ends its training with the per-epoch PGD check above 0.5")),
    Target("masked_pgd_accuracy", ">", 0.8,
           read("survey S2, section 5", "defences with obfuscated gradients make gradient attacks fail")),
    Target("masked_bpda_accuracy", "<", 0.1,
           read("survey S2, section 5",
                "... without removing the vulnerability: Athalye et al. broke them")),
    Target("shift_naive_minus_undefended", "<", 0.1,
           design("the random shift hardly protects: the naive attack through it leaves less than 0.1 "
                  "more than the same attack on the undefended model")),
    Target("shift_eot_gain", ">=", 0.0, design("EOT is at least as strong as the naive attack")),
    Target("budget_curve_area_gain", ">", 0.0,
           design("the PGD-AT model's accuracy-vs-budget curve lies above the natural one's (mean)")),
    Target("natural_iterations_minus_pgd20", "~=", 0.0,
           design("50 iterations leave the natural model within 3 of 100 images of the table's PGD-20"),
           tolerance=0.03),
    Target("gradient_alignment_gain", ">", 0.0,
           read("survey S2, C9", "the input gradients of robust models are more meaningful; here: they "
                "correlate more with the digit's pixels")),
    Target("natural_worst_minus_pgd20", "<=", 0.0, _AUTOATTACK),
    Target("pgd_at_worst_minus_pgd20", "<=", 0.0, _AUTOATTACK),
    Target("masked_warning_count", ">=", 1, _CHECKS_FIRE),
    Target("masked_worst_accuracy", "<", 0.1,
           read("survey S2, section 5", "defences with obfuscated gradients make gradient attacks fail "
                "without removing the vulnerability; here: the worst case with Square breaks them")),
    Target("pgd_at_warning_count", "<=", 0, _CHECKS_QUIET),
    Target("natural_warning_count", "<=", 0, _CHECKS_QUIET),
)

# Not a number for the protocol the reference run follows (Wong et al.'s README reports no MNIST
# accuracy): the closest published one in the sources read, for PGD-based training, which Wong et
# al.'s abstract says FGSM with a random start is as effective as. The tolerance was set before any
# run of this protocol here.
_MNIST_CHALLENGE = readme("MadryLab/mnist_challenge",
                          "Madry et al.'s PGD-trained MNIST network: 89.62 % under 100-step PGD on the cross-entropy "
                          "loss with 50 random restarts at eps 0.3 (white-box leaderboard); here: Wong et al.'s "
                          "FGSM-RS MNIST protocol under their PGD-50 with 10 restarts, within 5 points")

ROBUSTNESS = register(
    Chapter(
        slug="02_robustness_and_adversarial_training",
        title="Evaluating robustness and adversarial training",
        parameters=(
            *COMMON,
            N_EVAL,
            EPOCHS,
            Parameter("robustbench_models", str, ",".join(PUBLISHED_CIFAR10_LINF),
                      "comma-separated RobustBench CIFAR-10 L-inf models evaluated at full scale",
                      pattern=_ZOO_LIST),
        ),
        # The reference run (Wong et al.'s MNIST network and recipe on all 60,000 training digits;
        # the table on 9,900 test digits, the last 100 being the per-epoch check's) asks what the
        # class run cannot: whether Wong et al.'s MNIST protocol comes within a tolerance of a
        # published MNIST robust accuracy.
        reference={"n_eval": 9900},
        targets={
            "class": _CH02_CLASS,
            # Set after a first, unpublished reference run (of the natural model, which the change of
            # FGSM-RS's random start does not touch); the sentences they judge glue their readings, so
            # the class text reads right at this scale too.
            "reference": (
                *_as_measured(_CH02_CLASS, shift_naive_minus_undefended=False, natural_iterations_minus_pgd20=False),
                Target("mnist_protocol_pgd50_accuracy", "~=", 0.8962, _MNIST_CHALLENGE, tolerance=0.05,
                       expect=READ_FROM_RUN),
                Target("unclipped_minus_clipped_start", ">", 0.0,
                       design("FGSM-RS with Wong et al.'s random start (not clipped to the pixel range before the "
                              "gradient step) leaves more test digits read right under their PGD-50 with restarts "
                              "than the same training with the start clipped first (paired over the digits)")),
            ),
            "full": (
                Target("pgd_at_robust_accuracy", "~=", 0.4704,
                       readme("MadryLab/cifar10_challenge", "PGD-AT WRN: 47.04 % under PGD-20 at 8/255 "
                              "(ours is a ResNet-18)"), tolerance=0.05),
                Target("pgd_at_clean_accuracy", "~=", 0.873,
                       readme("locuslab/fast_adversarial", "PGD AT on CIFAR-10: 87.30 % clean"), tolerance=0.05),
                Target("fgsm_rs_robust_accuracy", "~=", 0.4606,
                       readme("locuslab/fast_adversarial", "FGSM with random start on CIFAR-10: 46.06 % under PGD "
                              "at 8/255 (PreActResNet-18)"), tolerance=0.05),
                Target("fgsm_at_large_fgsm_minus_pgd", ">", 0.3, _FGSM_AT_ONLY),
                Target("pgd_at_worst_minus_pgd20", "<=", 0.0, _AUTOATTACK),
                Target("pgd_at_warning_count", "<=", 0, _CHECKS_QUIET),
                Target("robustbench_largest_gap", "<=", 0.02,
                       data("RobustBench/robustbench model_info/cifar10/Linf/<model>.json",
                            "the leaderboard's AutoAttack accuracies; here: ours within 2 points of each, on all "
                            "10,000 test images (n_eval=10000; no FAB-T, so ours may be a little higher)")),
            ),
        },
    )
)

# Chapter 3: the same sources at both scales; what the text says holds is stated for class scale.
_HUMAN_SHAPE_BIAS = Target("human_shape_bias", "~=", 0.959,
                           data("texture-vs-shape raw trials", "10 human subjects decide by shape: 95.9 % pooled "
                                "(the spec's recomputation of the published trials)"), tolerance=0.005)
_SIN = readme("rgeirhos/texture-vs-shape", "training on Stylized-ImageNet raises ResNet-50's shape bias "
              "from 21.39 % to 81.37 %")
_AT_SHAPE = abstract("Zhang & Zhu 2019", "adversarial training makes CNNs more shape-biased")
_SHUFFLE = abstract("Zhang & Zhu 2019", "shape-biased AT-CNNs, tested on patch-shuffled images; our reading: "
                    "patch-shuffling hurts them more (share of above-chance accuracy)")
_SATURATION = abstract("Zhang & Zhu 2019", "... tested on saturated images; our reading: saturation hurts them less")
_HIGH_PASS = readme("HaohanWang/HFC (Wang et al. 2020)",
                     "adversarially robust models rely less on high frequencies (mean over r = 4..16; a margin "
                     "beyond sampling noise)")

HUMAN_VS_MACHINE = register(
    Chapter(
        slug="03_human_vs_machine",
        title="Human vs. machine: texture, shape and frequency",
        parameters=(
            *COMMON,
            Parameter("imagenet_model", str, "auto",
                      "ImageNet classifier for the cue-conflict test (auto: EfficientNet-Lite0 below full scale, "
                      "else ResNet-50)",
                      choices=("auto", "efficientnet_lite0", "resnet50", "resnet101", "vgg16", "alexnet",
                               "densenet121")),
            Parameter("n_eval", int, 1000, "generated (or CIFAR-10) test images for the transform and noise tables",
                      minimum=10, maximum=100_000),
            Parameter("n_train", int, 0, "generated shape x texture training images (0: the scale default)",
                      minimum=0, maximum=1_000_000),
            EPOCHS,
        ),
        targets={
            "class": (
                _HUMAN_SHAPE_BIAS,
                Target("imagenet_shape_bias", "<", 0.5,
                       readme("rgeirhos/texture-vs-shape", "ImageNet CNNs are texture-biased (ResNet-50: 21.39 %)")),
                Target("cue_panel_names_elephant", ">", 0.5,
                       talk("talk S0", "the cat in elephant skin is named by its texture: 63.9 % Indian elephant")),
                Target("content_panel_names_cat", ">", 0.5, talk("talk S0", "the cat photograph: 71.1 % tabby cat")),
                Target("texture_panel_names_elephant", ">", 0.5,
                       talk("talk S0", "the texture photograph: 81.4 % Indian elephant"), expect=False),
                Target("natural_shape_bias", "<", 0.5,
                       design("the naturally trained network follows the texture on the generated data")),
                Target("texture_randomisation_shape_bias_gain", ">", 0.2, _SIN),
                Target("adversarial_training_shape_bias_gain", ">", 0.1, _AT_SHAPE),
                Target("adversarial_clean_accuracy_drop", ">", 0.2,
                       design("adversarial fine-tuning costs this small network over 0.2 of its clean accuracy")),
                # Read from the run: the fine-tuned network differs between processors (float rounding over
                # training), and PGD-10 at its budget left it 0.149 (0.128 to 0.172) on an AVX2 machine, 0.250
                # (0.224 to 0.277) on an AVX-512 one; the text glues how the interval reads against chance.
                Target("at_accuracy_at_training_budget", "<", 0.25,
                       design("the fine-tuning does not make the network robust at its own training budget: PGD-10 "
                              "there leaves it below chance (one shape in four) on the matched test images"),
                       expect=READ_FROM_RUN),
                # Patch-shuffle shares, low-pass shares and single high-pass entries are recorded without a verdict:
                # with one seed, runs on two processors trained networks whose shares differed beyond the
                # gaps a claim would rest on (patch-shuffle extra drop -0.008 and +0.049, low-pass gap 0.42
                # and 0.17, largest high-pass entry above chance 0.03 and 0.32). The full scale judges the
                # patch-shuffle comparison. The high-pass comparison (natural minus AT, averaged over the
                # radii) is recorded without a verdict too: +0.003 and -0.024 on the two processors, then
                # +0.031 on the second once the SmallCNN ran channels-last (float rounding only), so the
                # bound 0.02 was crossed by numerics alone. Republished channels-last on the first processor
                # (AMD EPYC, AVX2; December 2026): high-pass +0.074, low-pass gap 0.39, patch-shuffle extra drop
                # +0.082, saturation gap +0.132 (its sign held; it was +0.275 on the second processor).
                Target("saturation_extra_drop_natural", ">", 0.0, _SATURATION),
                Target("frequency_example_found", ">", 0.5,
                       design("some test image is right on the original and the high-pass part and wrong on the "
                              "low-pass part (an existence check, not evidence)")),
                Target("noise_change_over_budget", ">", 1.0,
                       design("Gaussian noise with std 0.1 changes pixels by more than the PGD budget compared")),
                Target("adversarial_vs_noise_gap_natural", ">", 0.5,
                       design("that PGD attack costs the natural network far more than the noise")),
                Target("adversarial_vs_noise_gap_at", ">", 0.2,
                       design("... and costs the adversarially fine-tuned network more than the noise, by over 0.2 "
                              "of its above-chance share")),
            ),
            "full": (
                _HUMAN_SHAPE_BIAS,
                Target("imagenet_shape_bias", "~=", 0.214,
                       readme("rgeirhos/texture-vs-shape", "standard ResNet-50 (top-1 76.13, torchvision's original "
                              "IMAGENET1K_V1 weights), average aggregation: 21.39 %"),
                       tolerance=0.03),
                Target("texture_randomisation_shape_bias_gain", ">", 0.2, _SIN),
                Target("adversarial_training_shape_bias_gain", ">", 0.1, _AT_SHAPE),
                Target("patch_shuffle_extra_drop_at", ">", 0.0, _SHUFFLE),  # CIFAR-10 ResNet-18s at full scale
                Target("saturation_extra_drop_natural", ">", 0.0, _SATURATION),
                Target("high_pass_accuracy_natural_minus_at", ">", 0.02, _HIGH_PASS),
            ),
        },
    )
)

# Chapter 4: the talk states the ITID theorems and shows the experiments; the papers behind the
# other sections were read as abstracts (Zhang et al., Huang et al., Tao et al.) or through the
# survey (Ilyas et al.: it describes their data set of non-robust features only, not the
# relabelling of adversarial examples that the chapter builds).
_THEOREM_2 = talk("talk S0, Theorem 2", "the generalisation bound grows with gamma, the model's dependence on "
                  "task-irrelevant variables; here: test error ranks with gamma-hat")
_THEOREM_5 = talk("talk S0, Theorem 5", "a variable independent of the label on the training set leaves the optimal "
                  "model invariant to it; re-balancing the training set improves generalisation")
_RANDOM_LABELS = talk("talk S0 (figure from Zhang et al. 2017)",
                      "the generalisation gap grows with the share of random labels")
_FITS_RANDOM = abstract("Zhang et al. 2017", "CNNs easily fit a random labelling of the training data")
_TRAINING_SET_ATTACK = talk("talk S0", "the training-set attack raises the test error while keeping the training "
                            "error minimal")
_UNLEARNABLE = abstract("Huang et al. 2021", "error-minimizing noise makes training examples unlearnable; here: the "
                        "CNN's clean test error above 0.8 (chance 0.9)")
_AT_RECOVERS = abstract("Tao et al. 2021", "test accuracy decreased by delusive attacks can be largely recovered by "
                        "adversarial training; here: over half of the added test error")
_NON_ROBUST = read("survey S2 (Ilyas et al. 2019); talk S0", "a model trained normally on a non-robust data set "
                   "reaches good standard accuracy; here, on adversarial examples relabelled with their target "
                   "class (Ilyas et al.'s other construction): over 0.25 on the clean test set, chance 0.1")

SPURIOUS_CORRELATIONS = register(
    Chapter(
        slug="04_spurious_correlations",
        title="What networks learn from data: spurious correlations, ITID and training-set attacks",
        parameters=(
            *COMMON,
            Parameter("n_eval", int, 1000, "test images behind every test error (each in ten colours for ITID)",
                      minimum=10, maximum=100_000),
            Parameter("n_train", int, 0, "training images of each experiment (0: the scale defaults)",
                      minimum=0, maximum=1_000_000),
            Parameter("epochs", int, 0, "epochs of every training run and rounds of the error-minimising noise "
                      "(0: the scale defaults)", minimum=0, maximum=300),
        ),
        targets={
            "class": (
                Target("itid_error_rise", ">", 0.2, _THEOREM_2),
                Target("itid_gamma_rise", ">", 1.0, design("at rho = 0.99 gamma-hat is over 1 bit above rho = 0")),
                Target("itid_rank_correlation", ">=", 0.8, _THEOREM_2),
                Target("rebalance_error_drop", ">", 0.2, _THEOREM_5),
                Target("rebalanced_colour_dependence", "<", 0.05,
                       talk("talk S0, Theorem 5", "... the optimal model is invariant to the balanced variable; "
                            "here: the colour part of gamma-hat below 0.05 bits")),
                Target("random_label_train_error_max", "<", 0.05, _FITS_RANDOM),
                Target("random_label_gap_rise", ">", 0.5, _RANDOM_LABELS),
                Target("random_label_gap_min_step", ">", 0.0, _RANDOM_LABELS),
                Target("poison_cnn_train_error", "<", 0.05, _TRAINING_SET_ATTACK),
                Target("poison_cnn_test_error_rise", ">", 0.5, _TRAINING_SET_ATTACK),
                Target("poison_rise_grows_with_budget", ">", 0.3,
                       design("the CNN's test-error rise is over 0.3 larger at the largest budget than at the "
                              "smallest")),
                Target("poison_linear_rise_below_cnn", ">", 0.05,
                       design("the linear model's test error rises less than the CNN's (by over 0.05)")),
                Target("em_classwise_rise", ">", 0.15,
                       design("class-wise error-minimising noise raises the CNN's test error by over 0.15")),
                Target("em_samplewise_rise", ">", 0.05,
                       design("sample-wise error-minimising noise raises it by over 0.05")),
                Target("em_train_error_max", "<", 0.05, design("both error-minimising sets are fitted")),
                Target("em_classwise_unlearnable", ">", 0.8, _UNLEARNABLE, expect=False),
                Target("at_recovered_share", ">", 0.5, _AT_RECOVERS, expect=False),
                Target("at_train_error", ">", 0.8,
                       design("adversarial training at the poison's budget does not fit the poisoned set: its "
                              "training error stays above 0.8")),
                Target("ig_ink_correlation_gap_abs", "<", 0.1,
                       design("by the correlation of attribution with brightness, both CNNs follow the strokes "
                              "about equally (within 0.1)")),
                Target("nonrobust_accuracy", ">", 0.25, _NON_ROBUST),
            ),
            "full": (
                Target("itid_error_rise", ">", 0.2, _THEOREM_2),
                Target("itid_rank_correlation", ">=", 0.8, _THEOREM_2),
                Target("rebalance_error_drop", ">", 0.2, _THEOREM_5),
                Target("random_label_train_error_max", "<", 0.05, _FITS_RANDOM),
                Target("random_label_gap_rise", ">", 0.5, _RANDOM_LABELS),
                Target("poison_cnn_train_error", "<", 0.05, _TRAINING_SET_ATTACK),
                Target("poison_cnn_test_error_rise", ">", 0.5, _TRAINING_SET_ATTACK),
                Target("em_classwise_unlearnable", ">", 0.8, _UNLEARNABLE),
                Target("at_recovered_share", ">", 0.5, _AT_RECOVERS),
                Target("nonrobust_accuracy", ">", 0.25, _NON_ROBUST),
            ),
        },
    )
)

# Chapter 5: the talk shows APF's tables (S0); the paper was available as an abstract only and
# the authors' code was read through REPRO_SPEC section 1. Class scale runs on ORL faces with
# FaceNet as the server, so the talk's numbers are directions to check, not values to match.
_APF_TRANSFER = talk("talk S0, APF tables", "g > g-hat in almost every cell: the transfer network lowers the TAR; "
                     "here: strictly, in at least 3 of the 4 attack columns")
_APF_UNIVERSAL = talk("talk S0, APF tables", "g-hat > s in almost every cell: the universal noise lowers it further; "
                      "here: strictly, in at least 3 of the 4 attack columns")
_APF_DI2 = talk("talk S0, APF tables", "the DI2-FGSM column is the strongest (lowest mean TAR over g, g-hat, s)")
_APF_BOUND = talk("talk S0, APF tables", "s approaches the white-box ('image visible') bound; here: mean TAR gap "
                  "below 0.1")
_APF_SSIM = design("the filtered photo keeps an SSIM of at least 0.5 (the book's floor)")
_APF_FULL_BUDGET = design("the filter changes every pixel by the full budget: its PSNR is within 0.05 dB of "
                          "20 log10(255 / budget in levels), the lowest an L-inf budget allows")

PRIVACY_FILTER = register(
    Chapter(
        slug="05_privacy_filter",
        title="APF: an adversarial privacy filter against face recognition",
        parameters=(
            *COMMON,
            Parameter("n_eval", int, 0, "genuine test pairs protected and evaluated per test set (0: all of them)",
                      minimum=0, maximum=100_000),
            Parameter("epsilon", int, 0, "L-inf budget in 8-bit levels (0: the scale default, 16 class, 8 full)",
                      minimum=0, maximum=64),
            Parameter("epochs", int, 0, "epochs of the transfer networks (0: the scale default)",
                      minimum=0, maximum=300),
        ),
        targets={
            "class": (
                Target("server_clean_tar", ">", 0.9,
                       design("FaceNet accepts over 90 % of the unseen subjects' genuine pairs before protection")),
                Target("server_verification_accuracy", ">", 0.95,
                       design("FaceNet's 10-fold verification accuracy on the unseen subjects is above 95 %")),
                Target("probe_cosine_gap", ">", 0.3,
                       design("the distilled probe matches the server far better on its training subjects than "
                              "on unseen ones (mean cosine gap over 0.3)")),
                Target("g_tar_min", ">", 0.8,
                       design("the probe's perturbation alone leaves the server's TAR above 80 % in every column")),
                Target("probe_drop_min", ">", 0.0,
                       design("every attack lowers the TAR of the probe it runs on (here: the attack with the "
                              "smallest drop, judged on its paired interval over the genuine pairs)")),
                Target("transfer_gain_columns", ">=", 3, _APF_TRANSFER),
                Target("universal_gain_columns", ">=", 3, _APF_UNIVERSAL, expect=False),
                Target("di2_strongest", ">", 0.0, _APF_DI2, expect=False),
                Target("s_gap_to_white_box", "<", 0.1, _APF_BOUND),
                Target("transfer_input_effect", "<", 0.05,
                       design("T ignores its input: feeding it zeros instead of g changes the TAR of g-hat by "
                              "under 0.05 in every column")),
                Target("dlib_drop_s", ">", 0.05,
                       design("the filter lowers the TAR of dlib, which it never saw, by over 0.05"), expect=False),
                Target("dlib_drop_white_box", ">", 0.5,
                       design("the white-box attack on FaceNet lowers dlib's TAR by over 0.5")),
                Target("psnr_s_above_full_budget", "~=", 0.0, _APF_FULL_BUDGET, tolerance=0.05),
                Target("ssim_s", ">=", 0.5, _APF_SSIM),
            ),
            "full": (
                Target("transfer_gain_columns", ">=", 3, _APF_TRANSFER),
                Target("universal_gain_columns", ">=", 3, _APF_UNIVERSAL),
                Target("di2_strongest", ">", 0.0, _APF_DI2),
                Target("s_gap_to_white_box", "<", 0.1, _APF_BOUND),
                Target("dlib_drop_s", ">", 0.05,
                       design("the filter lowers the TAR of dlib, which it never saw, by over 0.05")),
            ),
        },
    )
)

# Chapter 6: the talk's numbers are shown beside ours, but its CAPTCHA scheme and transforms
# are unknown, so they are directions to reproduce, not numbers to match to a tolerance. The
# abstract only names the four modules; what each buys is this book's own claim.
_CAPTCHA_TALK = (
    Target("cnn_raw_min_level", ">", 0.7,
           talk("talk S0", "raw CAPTCHAs stay readable under random transforms (95.0 / 91.6 / 73.1 %)")),
    Target("cnn_adv_max_level", "<", 0.1,
           talk("talk S0", "adversarial CAPTCHAs stay unreadable under random transforms (1.3 / 5.4 / 9.0 %)")),
)
_CAPTCHA_OWN = (
    Target("eot_gain", ">", 0.0, design("without EOT the CAPTCHAs are read more often (mean over crackers, levels)")),
    Target("multi_target_gain", ">", 0.0, design("attacking one character only is read more often")),
    Target("eot_and_multi_target_lead", ">", 0.0,
           design("EOT and the multi-target loss each buy more than the ensemble and BPDA")),
    Target("ensemble_gain_adv_trained", ">", 0.0,
           design("the adversarially trained cracker reads more CAPTCHAs crafted without the ensemble (Hard)")),
    Target("bpda_alone_gain", ">", 0.0,
           design("BPDA lets the attack through binarisation: the binarising cracker alone reads fewer")),
    Target("noise_cnn_hard", ">", 0.7, design("random +-eps noise of the same L-inf size does not fool the CNN")),
    Target("ddddocr_torch_max_abs_diff", "<", 1e-4, design("ddddocr's float model converted to torch matches "
                                                           "onnxruntime")),
)

ADVERSARIAL_CAPTCHA = register(
    Chapter(
        slug="06_adversarial_captcha",
        title="Adversarial CAPTCHAs: a Turing test that machines fail",
        parameters=(
            *COMMON,
            Parameter("n_eval", int, 100, "test CAPTCHAs attacked for the main tables", minimum=10, maximum=100_000),
            Parameter("n_train", int, 0, "generated training CAPTCHAs (0: the scale default)",
                      minimum=0, maximum=10_000_000),
            EPOCHS,
            Parameter("epsilon", int, 16, "L-inf budget in 8-bit colour levels", minimum=1, maximum=255),
            Parameter("attack_steps", int, 0, "attack iterations (0: the scale default)", minimum=0, maximum=10_000),
            Parameter("eot_samples", int, 0, "random transforms per attack step (0: the scale default)",
                      minimum=0, maximum=1024),
        ),
        targets={
            "class": (
                Target("cnn_raw_easy", ">", 0.899,
                       design("the CNN cracker reads at least 90 % of raw CAPTCHAs under Easy transforms")),
                *_CAPTCHA_TALK,
                Target("ensemble_weakest_members_gap", ">", 0.0,
                       design("the adversarially trained and the binarising crackers read more adversarial CAPTCHAs "
                              "than the CNN and the median-filtering one")),
                Target("ddddocr_drop_easy", ">", 0.0,
                       design("our CAPTCHAs lower ddddocr's recognition (Easy), though it never took part")),
                Target("ssim_adv_minus_noise", ">", 0.0,
                       design("the perturbation keeps more structure (SSIM) than random +-eps noise")),
                Target("saliency_correlation_gap", ">", 0.1,
                       design("noise changes the CNN's attention map less than the perturbation")),
                *_as_measured(_CAPTCHA_OWN, ensemble_gain_adv_trained=READ_FROM_RUN),
                Target("bpda_gain_binarise_abs", "<", 0.05, design("inside the ensemble BPDA changes little (Hard)")),
                Target("background_margin_levels", ">", 0.0,
                       design("before the transforms, no background pixel reaches the binarisation threshold "
                              "within the budget: the captcha package's lowest background level (238) less the "
                              "budget stays above 0.85 x 255")),
                Target("bpda_alone_true_gradient_changed", "<", 0.001,
                       design("with the true gradient, the attack on the binarising cracker changes no pixel")),
                Target("ddddocr_weight_correlation_max", "<", 0.1,
                       design("ddddocr's default model is not its float model quantised (weights uncorrelated)")),
                Target("transfer_to_ddddocr_drop", ">", 0.0, design("our CAPTCHAs transfer to ddddocr in part")),
                Target("transfer_gap_ours_vs_ddddocr", ">", 0.3,
                       design("they lower our crackers' recognition far more than ddddocr's")),
                Target("transfer_float_from_ddddocr", "<", 0.1,
                       design("CAPTCHAs crafted on ddddocr's float model defeat it")),
                Target("transfer_float_to_default_drop", ">", 0.0,
                       design("... and lower its default model's recognition")),
                Target("transfer_from_ddddocr_to_ours_drop", "<", 0.1,
                       design("... but hardly our crackers' (mean drop below 0.1)")),
                Target("transfer_within_ddddocr_lead", ">", 0.0,
                       design("transfer is strongest between the two ddddocr models")),
            ),
            "full": (*_CAPTCHA_TALK, *_CAPTCHA_OWN),
        },
    )
)

# Chapter 7: the talk's C-MNIST and CelebA tables are its own (construction, attack settings and
# protocols unknown), so its claims are directions; what the book adds about its construction
# (colour flips, the colour meter, the few-shot protocol) is its own claim.
_CLEARLY = "clearly: the difference of the means exceeds the larger spread over seeds"
_AEDA_ORDER = (
    Target("online_minus_pre_bacc_margin", ">", 0.0,
           talk("talk S0 (C-MNIST table)", f"AEDA_online beats AEDA_pre in balanced accuracy (80.57 vs 64.53 %); "
                f"{_CLEARLY}")),
    Target("robust_minus_online_bacc_margin", ">", 0.0,
           talk("talk S0 (C-MNIST table)", f"AEDA_robust beats AEDA_online in balanced accuracy (91.80 vs 80.57 %); "
                f"{_CLEARLY}")),
    Target("online_minus_pre_fairness_margin", ">", 0.0,
           talk("talk S0 (C-MNIST table)", f"AEDA_online is less biased than AEDA_pre (3.20 vs 5.89); {_CLEARLY}")),
    Target("robust_minus_online_fairness_margin", ">", 0.0,
           talk("talk S0 (C-MNIST table)", f"AEDA_robust is less biased than AEDA_online (0.528 vs 3.20); {_CLEARLY}")),
)
_AEDA_PARADOX = (
    Target("robust_vs_original_bacc_margin", ">", 0.0,
           talk("talk S0", "adversarial pseudo-samples raise accuracy and fairness together (AEDA_robust vs the "
                f"original: bACC 91.80 vs 55.62 %); {_CLEARLY}")),
    Target("robust_vs_original_bias_margin", ">", 0.0,
           talk("talk S0", f"... and lower the model bias (0.528 vs 7.84); {_CLEARLY}")),
)
_UNDERSAMPLING = (
    Target("undersampling_bacc_cost_margin", ">", 0.0,
           talk("talk S0 (CelebA table)", "under-sampling buys fairness with accuracy (bACC 66.35 vs 73.57 %); "
                f"{_CLEARLY}")),
    Target("undersampling_bias_drop_margin", ">", 0.0,
           talk("talk S0 (CelebA table)", f"... its bias is the lowest of the table (2.35 vs 5.48); {_CLEARLY}")),
)

DEBIASING = register(
    Chapter(
        slug="07_debiasing_with_adversarial_examples",
        title="Debiasing with adversarial pseudo-samples (AEDA)",
        parameters=(
            *COMMON,
            Parameter("n_eval", int, 0, "test digits, the same number of each class (0: all of them)",
                      minimum=0, maximum=10_000),
            Parameter("n_train", int, 0, "C-MNIST training digits (0: the scale default)", minimum=0, maximum=60_000),
            Parameter("epochs", int, 0, "epochs of every C-MNIST training run (0: the scale default)",
                      minimum=0, maximum=300),
            Parameter("flip_eps", float, 0.0, "L-inf budget of the bias-flipping attacks (0: the default 0.3)",
                      minimum=0.0, maximum=1.0),
            Parameter("repeats", int, 0, "seeds every row of the table is trained with (0: the scale default, 3)",
                      minimum=0, maximum=20),
        ),
        targets={
            "class": (
                Target("bias_original", ">", 5.0,
                       design("trained on the fully biased set, the original model is strongly biased: its "
                              "per-class gaps sum to more than 5 (of at most 10)")),
                Target("original_read_by_colour", ">", 0.8,
                       design("the original model reads most conflicting test digits (over 80 %) as a digit of "
                              "their colour's group")),
                Target("resampling_undefined_fully_biased", ">=", 1.0,
                       talk("talk S0 (C-MNIST table)", "under-sampling and re-weighting are '-' on C-MNIST")),
                *_as_measured(_AEDA_ORDER, online_minus_pre_bacc_margin=False, online_minus_pre_fairness_margin=False,
                              robust_minus_online_bacc_margin=False, robust_minus_online_fairness_margin=False),
                # Only the bias half of the paradox is judged at class scale. Its accuracy half (AEDA_robust's
                # balanced accuracy beats the original's by more than the larger spread over seeds) held in
                # two runs with the same seeds (+0.036 on one processor, +0.043 on another) and not in a third
                # (-0.076, the second processor once the networks ran channels-last, float rounding only;
                # AEDA_robust's spread over seeds grew from 0.16 to 0.23). It is recorded and glued at class
                # scale and judged at full scale.
                *(target for target in _AEDA_PARADOX if target.key != "robust_vs_original_bacc_margin"),
                Target("adv_debiasing_bacc_gain", ">", 0.0,
                       talk("talk S0 (C-MNIST table)", "adversarial debiasing raises balanced accuracy (89.93 vs "
                            "55.62 %)"), expect=False),
                Target("bias_oracle", "<", 1.0,
                       design("the oracle recolouring, a perfect CycleGAN, removes nearly all bias (sum below 1)")),
                Target("pre_flip_rate", ">", 0.9,
                       design("AEDA_pre's flips fool the colour classifier they are made against (over 90 %)"),
                       expect=False),
                Target("colour_moved_pre", ">", 0.5,
                       design("at eps 0.3 the flips are recolourings: they move the background more than half way "
                              "to the other colour")),
                *_as_measured(_UNDERSAMPLING, undersampling_bacc_cost_margin=False),
                Target("fewshot_pseudo_only_mean", ">", 0.25,
                       talk("talk S0", "models extract from adversarial perturbations features that generalise to "
                            "real data (here: pseudo-samples alone beat chance, 25 %)")),
                Target("fewshot_missed_class_gain_robust_margin", ">", 0.0,
                       talk("talk S0 (few-shot table)", "pseudo-samples raise 4-shot accuracy on the classes the "
                            "original misses (digit 6: 0 -> 42.50 %, digit 8: 0 -> 25.00 %); clearly: the mean gain "
                            "over episodes exceeds its spread"), expect=False),
                Target("fewshot_robust_minus_natural_margin", ">", 0.0,
                       talk("talk S0", "a robust model gives stronger adversarial examples that generalise better "
                            "to the class attacked; clearly: the mean gain over episodes exceeds its spread"),
                       expect=False),
                Target("fewshot_best_pseudo_gain", ">", 0.0,
                       talk("talk S0 (few-shot table)", "adversarial pseudo-samples raise 4-way 4-shot accuracy "
                            "(here: the better of the two teachers, mean over classes and episodes)"), expect=False),
            ),
            "full": (*_AEDA_ORDER, *_AEDA_PARADOX),
        },
    )
)


_SPREAD = "clearly: the difference of the mean success rates exceeds the larger spread over placements"
_PATCH_ORDER = (
    Target("g2lvap_vs_lavan_margin_min", ">", 0.0,
           read("S1, Fig. 4", "G2LVAP fools more images than LaVAN at every patch size (28.49 vs 8.90 % at 0.25 % "
                f"of the image, 90.23 vs 37.79 % at 1 %); {_SPREAD}")),
    Target("lavan_vs_random_margin_min", ">", 0.0,
           read("S1, Fig. 4", f"LaVAN fools more images than random-noise patches at every size; {_SPREAD}")),
    Target("g2lvap_vs_random_margin_min", ">", 0.0,
           read("S1, Fig. 4", f"G2LVAP fools more images than random-noise patches at every size; {_SPREAD}")),
    Target("g2lvap_rise_margin", ">", 0.0,
           read("S1, Fig. 4", "G2LVAP's success rises with the patch's area (the largest trained patch against "
                f"the smallest); {_SPREAD}")),
)
_WHY = (
    Target("one_same_class_rate", ">", 0.5,
           read("S1, Table 5", "the patch alone on a black canvas takes the patched photo's class in most "
                "placements (69.72 % of 17,956)")),
    Target("many_in_canvas_classes_rate", ">", 0.5,
           read("S1, Table 6", "on many photos, the patched photo is read as one of the canvas's classes in most "
                "comparisons (92.94 %)")),
)

PATCHES = register(
    Chapter(
        slug="08_localized_visible_patches",
        title="Localized visible patches: G2LVAP and LaVAN",
        parameters=(
            *COMMON,
            Parameter("n_eval", int, 0, "test photos every success rate is measured on (0: the scale default)",
                      minimum=0, maximum=50_000),
            Parameter("steps", int, 0, "training steps of every generator and LaVAN patch (0: the scale default)",
                      minimum=0, maximum=100_000),
            Parameter("repeats", int, 0, "random placements of every success rate (0: the scale default; the "
                      "paper's 10 at full scale)",
                      minimum=0, maximum=100),
            Parameter("stride", int, 0, "step in pixels of the class comparison's sliding patch (0: the scale "
                      "default)", minimum=0, maximum=299),
        ),
        targets={
            "class": _as_measured(
            (
                Target("clean_accuracy", ">", 0.6,
                       design("EfficientNet-Lite0 names most of the sample photos correctly (over 60 %)")),
                # G2LVAP against noise at 1 %: the margin is within a few hundredths of zero, above it
                # with the weights one CPU trains and below with another's, so the text makes no claim
                # about it at class scale (it is still recorded); the full scale judges it.
                *(target for target in _PATCH_ORDER if target.key != "g2lvap_vs_random_margin_min"),
                Target("random_rise_margin", "<=", 0.0,
                       read("S1, Fig. 4", "a larger random-noise patch does not fool more images (here: the "
                            f"demonstration patch against the 1 % one); {_SPREAD}")),
                Target("g2lvap_vs_lavan_margin_demo", ">", 0.0,
                       read("S1, Fig. 4", f"G2LVAP fools more images than LaVAN (here: at the demonstration size); "
                            f"{_SPREAD}")),
                Target("lavan_vs_g2lvap_margin_demo", ">", 0.0,
                       design(f"within the class budget, LaVAN's directly optimised patch fools more images than "
                              f"the generator's (at the demonstration size); {_SPREAD}")),
                Target("lavan_vs_random_margin_demo", ">", 0.0,
                       read("S1, Fig. 4", f"LaVAN fools more images than random noise (here: at the demonstration "
                            f"size); {_SPREAD}")),
                Target("g2lvap_vs_random_margin_demo", ">", 0.0,
                       read("S1, Fig. 4", f"G2LVAP fools more images than random noise (here: at the "
                            f"demonstration size); {_SPREAD}")),
                Target("ssim_mean", "<", 0.1,
                       read("S1, Table 3", "patches drawn from the generator differ: pairwise SSIM mostly below "
                            "0.1 (here: the mean over the 15 pairs)")),
                *_WHY,
                Target("lavan_many_in_canvas_classes_rate", ">", 0.5,
                       read("S1, Table 6", "the class comparison's finding, applied to LaVAN's patch: the patched "
                            "photo is read as one of the canvas's classes in most comparisons")),
                Target("two_patch_dominant", ">", 0.5,
                       read("S1, Fig. 9", "with two patches in one photo, the more salient one decides the class "
                            "(here: the one whose canvas is read more confidently, in most photos)")),
                Target("content_minus_placement", ">", 0.0,
                       read("S1, section 4.4", "what the patch shows matters, not where it goes (here: patch A's "
                            "gain over noise, both at random places, exceeds the size of patch A's change between "
                            "the most salient place and random places)")),
            ),
            g2lvap_vs_lavan_margin_min=False, lavan_vs_random_margin_min=False,
            random_rise_margin=False, g2lvap_vs_lavan_margin_demo=False, ssim_mean=False, one_same_class_rate=False,
            many_in_canvas_classes_rate=False, lavan_many_in_canvas_classes_rate=False, two_patch_dominant=False,
            content_minus_placement=NOT_SHOWN,
            ),
            "full": (
                *_PATCH_ORDER,
                Target("g2lvap_success_a025", "~=", 0.2849, read("S1, Fig. 4", "G2LVAP 28.49 +- 2.30 % at 15 px"),
                       tolerance=0.05),
                Target("g2lvap_success_a100", "~=", 0.9023, read("S1, Fig. 4", "G2LVAP 90.23 +- 1.91 % at 30 px"),
                       tolerance=0.05),
                Target("lavan_success_a025", "~=", 0.089, read("S1, Fig. 4", "LaVAN 8.90 +- 3.42 % at 15 px"),
                       tolerance=0.05),
                Target("lavan_success_a100", "~=", 0.3779, read("S1, Fig. 4", "LaVAN 37.79 +- 2.61 % at 30 px"),
                       tolerance=0.05),
                Target("one_success_rate", "~=", 0.8778, read("S1, Table 5", "87.78 % of 17,956 placements"),
                       tolerance=0.05),
                Target("one_same_class_rate", "~=", 0.6972, read("S1, Table 5", "69.72 % share the canvas's class"),
                       tolerance=0.05),
                Target("many_success_rate", "~=", 0.9295, read("S1, Table 6", "92.95 % on 100 test photos"),
                       tolerance=0.05),
            ),
        },
    )
)

_S4 = "S4 (Luo et al. 2023, abstract)"
# Chapter 9 judges every comparison on a paired 95 % interval over the photos or digits (and the
# seeds of the attacks with random steps), and its text glues the reading of each interval. Where
# an interval lies near zero (32 photos and two seeds at class scale) it may fall on either side
# on another processor, so the target pins no side (READ_FROM_RUN); where it lies far from zero
# the target pins the side the text reads (the semantic attack on MNIST and SIA-AT: above; the
# semantic attack on the photos and semantic augmentation against re-weighting: not shown).
_TRANSFER = (
    Target("mi_minus_ifgsm_transfer", ">", 0.0,
           abstract("Dong et al. 2018", "momentum makes adversarial examples more transferable (ImageNet models); "
                    "here: MI-FGSM's transfer success minus I-FGSM's, over the two target models"),
           expect=READ_FROM_RUN),
    Target("di_minus_ifgsm_transfer", ">", 0.0,
           readme("Xie et al. 2019, cihangxie/DI-2-FGSM",
                  "input diversity makes adversarial examples much more transferable than I-FGSM (here: more, "
                  "judged on the interval; 'much' is not tested)"), expect=READ_FROM_RUN),
    Target("mdi_minus_difgsm_transfer", ">", 0.0,
           readme("Xie et al. 2019, cihangxie/DI-2-FGSM",
                  "momentum added to input diversity improves transferability further (here: M-DI2-FGSM's transfer "
                  "success minus DI2-FGSM's)"), expect=READ_FROM_RUN),
    Target("ensemble_minus_single_transfer", ">", 0.0,
           readme("Xie et al. 2019, cihangxie/DI-2-FGSM",
                  "attacking several networks at once improves transferability further (here: M-DI2-FGSM from "
                  "Lite0+Lite1 against M-DI2-FGSM from Lite0 alone, on Lite2, at eps 4/255 where one source "
                  "does not already fool nearly every photo)"), expect=READ_FROM_RUN),
)

TRANSFER_AND_SEMANTIC = register(
    Chapter(
        slug="09_transfer_and_semantic_attacks",
        title="Attacks that transfer, and attacks that mean something",
        parameters=(
            *COMMON,
            Parameter("n_eval", int, 0, "photos attacked in the transfer and semantic experiments (0: the scale "
                      "default)", minimum=0, maximum=50_000),
            Parameter("repeats", int, 0, "seeds of every attack with random steps (0: the scale default)",
                      minimum=0, maximum=100),
            EPOCHS,
        ),
        targets={
            "class": (
                Target("models_min_clean_accuracy", ">", 0.8,
                       design("EfficientNet-Lite0, Lite1 and Lite2 each read over 80 % of the sample photos")),
                Target("white_box_ifgsm", ">", 0.95,
                       design("I-FGSM at 16/255 fools the source model on over 95 % of the photos")),
                *_TRANSFER,
                Target("sia_minus_pgd_mnist", ">", 0.0,
                       abstract(_S4, "the semantic attack succeeds more often than baselines (here: than PGD with "
                                "the same pixel budget, on MNIST)")),
                Target("sia_minus_pgd_imagenet", ">", 0.0,
                       abstract(_S4, "the semantic attack succeeds more often than baselines (here: than PGD with "
                                "the same pixel budget, on the ImageNet photos)"), expect=NOT_SHOWN),
                Target("sia_colour_minus_pgd_imagenet", ">", 0.0,
                       design("on the photos, the semantic attack restricted to the colour attributes succeeds "
                              "more often than PGD with the same pixel budget"), expect=READ_FROM_RUN),
                Target("sia_at_minus_natural_pgd", ">", 0.0,
                       abstract(_S4, "adversarial training on semantic examples improves robustness to gradient "
                                "attacks (here: accuracy under PGD-20 at eps 0.1, against natural training)")),
                Target("sia_aug_minus_reweight_recall", ">", 0.0,
                       abstract(_S4, "augmenting an under-represented class with semantic examples beats "
                                "re-balancing baselines (here: the rare class's recall against re-weighting)"),
                       expect=NOT_SHOWN),
                Target("sia_aug_minus_plain_recall", ">", 0.0,
                       design("semantic augmentation raises the rare class's recall over no augmentation"),
                       expect=READ_FROM_RUN),
            ),
            "full": _TRANSFER,
        },
    )
)
