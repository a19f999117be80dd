"""CTC recognizer: loss / predict on CPU, rectifier preprocessors, config errors."""
import pytest
import torch

import stn_plugin.textrecog  # noqa: F401  (registers)
from mmdet.registry import MODELS
from stn_plugin.textrecog.structures import data_samples_from_texts as samples

TINY = dict(backbone=dict(type="CRNNBackbone", channels=(4, 8, 8, 8, 8)),
            decoder=dict(type="BiLSTMCTCHead", hidden_size=8, num_layers=1, dropout=0.0))
LOC = dict(type="conv", input_size=(16, 32), channels=(4, 8), hidden_dims=(16,), norm=True)
RECTIFIERS = {
    "tps": dict(type="SpatialTransformer", family=dict(type="tps", num_control_points=20, layout="text",
                                                       margin=0.05, control_point_range=1.5),
                loc_net=LOC, out_size=(32, 100), padding="border",
                regularizers=[dict(type="BendingEnergyLoss", weight=0.01)]),
    "affine": dict(type="SpatialTransformer", family="affine", loc_net=LOC, out_size=(32, 100), padding="border"),
    "projective": dict(type="SpatialTransformer", family="projective", loc_net=LOC, out_size=(32, 100),
                       padding="border"),
}


def build(preprocessor=None, **kw):
    torch.manual_seed(0)
    return MODELS.build(dict(type="CTCTextRecognizer", preprocessor=preprocessor, **TINY, **kw))


@pytest.mark.parametrize("family", sorted(RECTIFIERS))
def test_fresh_rectifier_is_identity(family):
    model = build(RECTIFIERS[family]).eval()
    x = torch.rand(2, 3, 32, 100) * 2 - 1
    out, transform = model.rectify(x)
    assert out.shape == x.shape
    torch.testing.assert_close(out, x, atol=1e-4, rtol=0)
    pts = torch.rand(2, 7, 2) * 2 - 1
    torch.testing.assert_close(transform.map_points(pts).float(), pts, atol=1e-4, rtol=0)
    # and the recognizer with a fresh rectifier computes what the plain one does
    plain = build(None).eval()
    plain.load_state_dict({k: v for k, v in model.state_dict().items() if not k.startswith("preprocessor.")})
    torch.testing.assert_close(model(x, mode="tensor"), plain(x, mode="tensor"), atol=1e-4, rtol=0)


@pytest.mark.parametrize("family", [None, "tps", "affine"])
def test_loss_and_gradients(family):
    model = build(RECTIFIERS.get(family)).train()
    x = torch.rand(3, 3, 32, 100) * 2 - 1
    losses = model(x, samples(["hello", "World", "42"]), mode="loss")
    assert torch.isfinite(losses["loss_ctc"]) and losses["loss_ctc"] > 0
    if family == "tps":
        assert "loss_stn_bending" in losses
    sum(losses.values()).backward()
    if family is not None:
        # the rectifier learns through the recognition loss: its regression layer gets gradients
        reg = [m for m in model.preprocessor.loc_net.modules() if isinstance(m, torch.nn.Linear)][-1]
        assert reg.weight.grad is not None and reg.weight.grad.abs().sum() > 0


def test_predict_greedy_and_beam_and_tensor():
    x = torch.rand(2, 3, 32, 100) * 2 - 1
    for decoding in ("greedy", dict(type="beam", beam_width=3)):
        model = build(RECTIFIERS["tps"], decoding=decoding).eval()
        out = model(x, samples(["ab", "cd"]), mode="predict")
        assert len(out) == 2
        for s in out:
            assert isinstance(s.pred_text.item, str) and 0.0 <= s.pred_text.score <= 1.0
            assert s.gt_text.item in ("ab", "cd")
    logits = model(x, mode="tensor")
    assert logits.shape == (2, 25, 37)   # T = 100 / 4, 36 characters + blank


def test_learns_two_fixed_crops():
    """Loss, gradients and decoding agree: a tiny model fits two fixed crops."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # tiny ops: thread overhead dominates (seen 40x slower with 2 busy cores)
    try:
        _fit_two_crops()
    finally:
        torch.set_num_threads(threads)


def _fit_two_crops():
    torch.manual_seed(0)
    model = MODELS.build(dict(type="CTCTextRecognizer", backbone=dict(type="CRNNBackbone", channels=(8, 16, 16, 16, 16)),
                              decoder=dict(type="BiLSTMCTCHead", hidden_size=32, num_layers=1, dropout=0.0)))
    x = torch.rand(2, 3, 32, 100) * 2 - 1
    data = samples(["cab", "d1"])
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    model.train()
    first = None
    for _ in range(100):
        loss = model(x, data, mode="loss")["loss_ctc"]
        first = first if first is not None else loss.item()
        opt.zero_grad()
        loss.backward()
        opt.step()
    assert loss.item() < 0.15 * first
    with torch.no_grad():
        texts = [t for t, _ in model.decode_logits(model(x, mode="tensor"))]
    # the decoded texts are made of the right characters, in order
    assert texts[0] and set(texts[0]) <= set("cab") and texts[0][0] == "c"
    assert texts[1] and set(texts[1]) <= set("d1") and texts[1][0] == "d"


def test_config_errors_name_the_key():
    with pytest.raises(ValueError, match="decoding"):
        build(decoding="viterbi")
    with pytest.raises(KeyError, match="preprocessor"):
        build(dict(family="tps"))
    with pytest.raises(ValueError, match="num_classes"):
        MODELS.build(dict(type="CTCTextRecognizer", decoder=dict(type="BiLSTMCTCHead", num_classes=10)))
    with pytest.raises(TypeError, match="dictionary"):
        build(dictionary=dict(alphabet="abc"))
    with pytest.raises(KeyError, match="unknown dictionary type='Vocabulary'; allowed values: \\['CTCDictionary'\\]"):
        build(dictionary=dict(type="Vocabulary", characters="abc"))
    assert build(None, dictionary=dict(type="CTCDictionary", characters="ab")).dictionary.num_classes == 3
    model = build(None)
    with pytest.raises(ValueError, match="inputs must be"):
        model(torch.zeros(1, 1, 32, 100), mode="tensor")


def test_dictionary_options():
    model = build(None, dictionary="abc")
    assert model.dictionary.num_classes == 4
    assert model(torch.zeros(1, 3, 32, 100), mode="tensor").shape[-1] == 4
