"""Training the joint extractor: ``kgbuild train --config FILE``.

A run mixes datasets with natural-language labels, samples each example's label
set (:mod:`.sampling`), and learns from every span and every gold entity pair of a
text in one encoder pass (SpERT's strong negatives; :mod:`.losses`). After each epoch
it saves a resumable checkpoint and logs loss and dev F1; at the end it picks
thresholds on dev (:mod:`.thresholds`), writes the model folder (fp16, config, model
card) and a JSON log.
"""

from __future__ import annotations

import json
import logging
import os
import random
import time
from pathlib import Path

import numpy as np
import torch

from kgbuild.extract.model.encoding import TextEncoder
from kgbuild.extract.model.network import JointExtractionModel
from kgbuild.extract.training.config import TrainConfig, training_threads
from kgbuild.extract.training.losses import batch_loss, one_way_loss, train_mode
from kgbuild.extract.training.model_card import write_model_card
from kgbuild.extract.training.sampling import build_pools, epoch_batches, load_datasets
from kgbuild.extract.training.thresholds import (
    evaluate_dev,
    tune_hybrid_threshold,
    tune_thresholds,
    tune_unseen_entity_threshold,
    tune_unseen_threshold,
)

logger = logging.getLogger(__name__)


def train(
    config_path: str | Path,
    *,
    resume: bool = True,
    max_steps: int | None = None,
    max_minutes: float | None = None,
) -> Path | None:
    """Train from a JSON config; returns the folder of the final model, or None when
    ``max_minutes`` ended this sitting first.

    Resumes from ``<output_dir>/checkpoint`` when it exists (unless ``resume`` is
    False): the checkpoint is written every ``checkpoint_every`` steps and after every
    epoch, with the optimizer, the schedule, the random states and where in the epoch
    the run was (an epoch's batches are rebuilt from the seed, so a resumed epoch goes
    on with the batch after the last one trained). ``max_minutes``: end the sitting
    after the step that passes this many minutes (checkpoint written), so a long recipe
    runs in sittings of a bounded length. ``max_steps`` stops early (for tests and smoke
    runs).
    """
    from transformers import AutoTokenizer, get_linear_schedule_with_warmup

    from kgbuild.extract.model.config import resolve_encoder_path

    config_path = Path(config_path)
    cfg = TrainConfig.model_validate_json(config_path.read_text())
    if cfg.init_from and not (Path(cfg.init_from) / "config.json").is_file():
        if not cfg.init_config:
            raise FileNotFoundError(
                f"{config_path}: init_from {cfg.init_from} does not exist and no init_config "
                "says how to train it"
            )
        logger.info("training the earlier stage first: %s", cfg.init_config)
        produced = train(
            cfg.init_config, resume=resume, max_steps=max_steps, max_minutes=max_minutes
        )
        if produced is None:  # the sitting ended in the earlier stage
            return None
        if produced.resolve() != Path(cfg.init_from).resolve():
            raise ValueError(
                f"{cfg.init_config} writes {produced}, but {config_path} starts from "
                f"{cfg.init_from}"
            )
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    torch.set_num_threads(training_threads(cfg))
    out = Path(cfg.output_dir)
    ckpt = out / "checkpoint"
    out.mkdir(parents=True, exist_ok=True)
    (out / "train_config.json").write_text(cfg.model_dump_json(indent=2) + "\n")

    random.seed(cfg.seed)
    np.random.seed(cfg.seed)
    torch.manual_seed(cfg.seed)
    tokenizer = AutoTokenizer.from_pretrained(resolve_encoder_path(cfg.model.encoder))
    encoder = TextEncoder(tokenizer, max_length=cfg.model.max_length)
    train_sets = load_datasets(cfg, cfg.train, training=True)
    dev_sets = load_datasets(cfg, cfg.dev, training=False)
    pools = build_pools(cfg, train_sets)
    logger.info("label pools: %d entity, %d relation names", len(pools.entity), len(pools.relation))

    total_steps = len(epoch_batches(cfg, train_sets, encoder, pools, 0)) * cfg.epochs

    if cfg.init_from:
        model = JointExtractionModel.from_pretrained(cfg.init_from)
        if cfg.stage != "joint":
            # the joint model stays as trained, thresholds included
            model.config.name = cfg.model.name
        else:
            model.config = cfg.model.model_copy()
            if cfg.model.no_relation_score and not hasattr(model, "no_relation"):
                model.add_no_relation_score()  # a new part of a trained model
            if hasattr(model, "one_way_lora") and not cfg.model.one_way_lora_rank:
                # trained for the encoder as it was: the one_way stage trains it again
                del model.one_way_lora
        logger.info("continuing from %s", cfg.init_from)
    else:
        model = JointExtractionModel.from_base_encoder(cfg.model)
    adapter_stage = cfg.stage != "joint"
    if adapter_stage and not cfg.init_from:
        raise ValueError(f"{config_path}: stage {cfg.stage} needs init_from")
    if cfg.stage == "one_way":
        if not hasattr(model, "one_way_lora"):
            model.add_one_way_lora(cfg.lora_rank)
        for name, param in model.named_parameters():
            param.requires_grad_(name.startswith("one_way_lora."))
    head_params = [
        p for n, p in model.named_parameters() if not n.startswith("encoder.") and p.requires_grad
    ]
    enc_params = [
        p for n, p in model.named_parameters() if n.startswith("encoder.") and p.requires_grad
    ]
    groups = [
        {"params": enc_params, "lr": cfg.lr_encoder},
        {"params": head_params, "lr": cfg.lr_heads},
    ]
    optimizer = torch.optim.AdamW([g for g in groups if g["params"]], weight_decay=cfg.weight_decay)
    scheduler = get_linear_schedule_with_warmup(
        optimizer, int(cfg.warmup_ratio * total_steps), total_steps
    )
    start_epoch, step, history = 0, 0, []
    done_in_epoch, partial = 0, None
    if resume and (ckpt / "state.pt").is_file():
        state = torch.load(ckpt / "state.pt", weights_only=False)
        model.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        scheduler.load_state_dict(state["scheduler"])
        start_epoch, step, history = state["epoch"], state["step"], state["history"]
        done_in_epoch, partial = state.get("batch", 0), state.get("partial")
        _set_random_states(state.get("random"))
        logger.info(
            "resumed from %s at epoch %d, batch %d (step %d)",
            ckpt, start_epoch + 1, done_in_epoch, step,
        )  # fmt: skip

    def save(epoch: int, batch: int, partial: dict | None) -> None:
        """The checkpoint: ``epoch`` epochs done and ``batch`` batches of the next."""
        ckpt.mkdir(parents=True, exist_ok=True)
        torch.save(
            {
                "model": model.state_dict(),
                "optimizer": optimizer.state_dict(),
                "scheduler": scheduler.state_dict(),
                "epoch": epoch,
                "batch": batch,
                "step": step,
                "history": history,
                "partial": partial,
                "random": _random_states(),
            },
            ckpt / "state.pt.tmp",
        )
        os.replace(ckpt / "state.pt.tmp", ckpt / "state.pt")

    sitting_started = time.time()

    train_mode(model, cfg)
    # what the two logged parts of the loss are
    parts = ("distillation", "gold") if adapter_stage else ("entity", "relation")
    started = time.time() - sum(h.get("seconds", 0) for h in history)
    for epoch in range(start_epoch, cfg.epochs):
        batches = epoch_batches(cfg, train_sets, encoder, pools, epoch)
        t0 = time.time()
        sums = np.zeros(3)
        skip = 0
        if epoch == start_epoch and done_in_epoch:
            skip = done_in_epoch
            if partial:
                sums = np.array(partial["sums"])
                t0 -= partial["seconds"]
        i = skip - 1
        for i, batch in enumerate(batches):
            if i < skip:
                continue
            if cfg.stage == "one_way":
                loss, ent_l, rel_l = one_way_loss(model, batch, cfg, encoder)
            else:
                loss, ent_l, rel_l = batch_loss(model, batch, cfg)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_([p for p in model.parameters() if p.requires_grad], 1.0)
            optimizer.step()
            if step < total_steps - 1:
                scheduler.step()
            step += 1
            sums += (loss.item(), ent_l, rel_l)
            if (i + 1) % 50 == 0:
                logger.info(
                    "epoch %d batch %d/%d loss %.3f (%s %.3f, %s %.3f) %.1f s",
                    epoch + 1, i + 1, len(batches), sums[0] / (i + 1), parts[0],
                    sums[1] / (i + 1), parts[1], sums[2] / (i + 1), time.time() - t0,
                )  # fmt: skip
            if max_steps and step >= max_steps:
                break
            over = max_minutes is not None and time.time() - sitting_started > max_minutes * 60
            if over or (cfg.checkpoint_every and step % cfg.checkpoint_every == 0):
                if i + 1 < len(batches):
                    partial = {"sums": sums.tolist(), "seconds": time.time() - t0}
                    save(epoch, i + 1, partial)
                if over and i + 1 < len(batches):
                    logger.info(
                        "sitting over after %.0f min: epoch %d, batch %d of %d (step %d) "
                        "saved in %s; run the same command again to go on",
                        (time.time() - sitting_started) / 60, epoch + 1, i + 1,
                        len(batches), step, ckpt,
                    )  # fmt: skip
                    return None
        entry = {
            "epoch": epoch + 1,
            "loss": round(float(sums[0] / max(1, i + 1)), 4),
            f"{parts[0]}_loss": round(float(sums[1] / max(1, i + 1)), 4),
            f"{parts[1]}_loss": round(float(sums[2] / max(1, i + 1)), 4),
            "seconds": round(time.time() - t0, 1),
        }
        if dev_sets and not max_steps:
            entry["dev"] = evaluate_dev(model, tokenizer, dev_sets, cfg)
        history.append(entry)
        logger.info("epoch %d done: %s", epoch + 1, json.dumps(entry))
        save(epoch + 1, 0, None)
        if max_steps and step >= max_steps:
            break
        if max_minutes is not None and time.time() - sitting_started > max_minutes * 60:
            if epoch + 1 < cfg.epochs:
                logger.info(
                    "sitting over after %.0f min at the end of epoch %d (step %d); run the "
                    "same command again to go on",
                    (time.time() - sitting_started) / 60, epoch + 1, step,
                )  # fmt: skip
                return None

    model.eval()
    if dev_sets and not max_steps and cfg.stage == "one_way":
        model.config.hybrid_relation_threshold = tune_hybrid_threshold(
            model, tokenizer, dev_sets, cfg
        )
    elif dev_sets and not max_steps:
        best = tune_thresholds(model, tokenizer, dev_sets, cfg)
        model.config.entity_threshold, model.config.relation_threshold = best
        tune_unseen_threshold(model, tokenizer, dev_sets, cfg, train_sets)
        tune_unseen_entity_threshold(model, tokenizer, dev_sets, cfg, train_sets)
    final = out / "model"
    model.save_pretrained(final)
    summary = {
        "train_seconds": round(time.time() - started, 1),
        "history": history,
        "entity_threshold": model.config.entity_threshold,
        "relation_threshold": model.config.relation_threshold,
        "config": json.loads(model.config.model_dump_json()),
        "train_config": json.loads(cfg.model_dump_json()),
    }
    (final / "training.json").write_text(json.dumps(summary, indent=2) + "\n")
    write_model_card(final, summary)
    logger.info("saved %s", final)
    return final


def _random_states() -> dict:
    """The random generators' states (dropout and sampling go on as if never stopped)."""
    return {
        "torch": torch.get_rng_state(),
        "numpy": np.random.get_state(),
        "python": random.getstate(),
    }


def _set_random_states(states: dict | None) -> None:
    if not states:
        return
    torch.set_rng_state(states["torch"])
    np.random.set_state(states["numpy"])
    random.setstate(states["python"])
