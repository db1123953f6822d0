"""`voc train` with the encoder fine-tuned in full instead of through LoRA: an experiment for
`benchmarks/emotion_transfer.py --full-finetune`, not a voc feature.

It runs the ordinary `voc` command line, with peft's ``get_peft_model`` replaced by a function
that leaves the encoder as it is and makes the weights of the layers LoRA would adapt
(``--lora-layers``, by default all 12) trainable themselves; the embeddings stay frozen. The
learning rate of those weights is ``--learning-rate`` (use about 3e-5, not LoRA's 3e-4), and
``--merge`` is needed so the whole encoder is written (a 470 MB float32 folder, not for git).

    .venv/bin/python benchmarks/train_full_finetune.py -q train DATA... -o OUT \
        --merge --learning-rate 3e-5
"""

from __future__ import annotations

import sys
from typing import Any

import peft


def unfreeze(encoder: Any, lora_config: Any) -> Any:
    layers = set(lora_config.layers_to_transform)
    for name, p in encoder.named_parameters():
        parts = name.split(".")
        p.requires_grad_(name.startswith("encoder.layer.") and int(parts[2]) in layers)
    n = sum(p.numel() for p in encoder.parameters() if p.requires_grad)
    print(f"full fine-tuning of encoder layers {sorted(layers)}: {n / 1e6:.1f}M weights",
          file=sys.stderr, flush=True)
    return encoder


if __name__ == "__main__":
    if "--merge" not in sys.argv:
        raise SystemExit("add --merge: a fully fine-tuned encoder has no adapter to save")
    peft.get_peft_model = unfreeze
    from voc.cli import main

    main()
