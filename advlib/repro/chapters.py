"""The book's chapters: their parameters and the results they must reproduce.

Targets marked ``seed`` come from the book's seeds (S2: the survey), ``paper`` from the
cited papers, ``claim`` from the chapter's own qualitative statements.
"""

from __future__ import annotations

from advlib.repro.spec import COMMON, Chapter, Parameter, Target, register

ADVERSARIAL_EXAMPLES = register(
    Chapter(
        slug="01_adversarial_examples",
        title="Adversarial examples",
        parameters=(
            *COMMON,
            Parameter("n_eval", int, 300, "test images attacked for the tables", minimum=10, maximum=10000),
            Parameter("attack_steps", int, 10, "iterations of the iterative attacks", minimum=1, maximum=1000),
            Parameter("epochs", int, 0, "training epochs of each classifier (0: the recipe default)",
                      minimum=0, maximum=300),
        ),
        targets={
            "class": (
                Target("clean_accuracy", ">", 0.97, "claim", "SmallCNN on the class-scale MNIST split"),
                Target("pgd_accuracy_max_eps", "<", 0.05, "seed",
                       "S2 survey C1: an undefended network is driven to ~0 % (MNIST proxy, PGD eps 0.3)"),
                Target("fgsm_minus_pgd_accuracy_max_eps", ">", 0.1, "claim",
                       "one gradient step is a much weaker attack than iterating it"),
                Target("targeted_success", ">", 0.9, "claim", "targeted PGD reaches the chosen class"),
                Target("cw_success", ">", 0.95, "claim", "C&W-L2 finds an adversarial example for (nearly) all"),
                Target("mi_transfer_gain", ">", 0.0, "paper",
                       "Dong et al. 2018: momentum transfers better than I-FGSM (ImageNet, Inception models)"),
                Target("di_transfer_gain", ">", 0.0, "paper",
                       "Xie et al. 2019: input diversity transfers better than I-FGSM (ImageNet)"),
                Target("imagenet_target_probability", ">", 0.5, "claim",
                       "EfficientNet-Lite0: a 2/255 targeted perturbation turns the cat into a gibbon"),
            ),
            "full": (
                Target("pgd_accuracy_max_eps", "<", 0.05, "seed",
                       "S2 survey C1: natural CIFAR-10 ResNet under PGD at 8/255 is driven to ~0 %"),
                Target("fgsm_minus_pgd_accuracy_max_eps", ">", 0.1, "claim", "FGSM is weaker than PGD"),
                Target("mi_transfer_gain", ">", 0.0, "paper", "Dong et al. 2018 (CIFAR-10 analogue)"),
                Target("di_transfer_gain", ">", 0.0, "paper", "Xie et al. 2019 (CIFAR-10 analogue)"),
            ),
        },
    )
)
