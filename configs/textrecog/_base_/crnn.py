# CRNN (conv backbone + 2-layer BiLSTM + CTC) on 32x100 RGB crops, lower-case alnum.
custom_imports = dict(imports=['stn_plugin'], allow_failed_imports=False)
default_scope = 'mmdet'

dictionary = dict(characters='0123456789abcdefghijklmnopqrstuvwxyz', lower=True, unknown='ignore')

model = dict(
    type='CTCTextRecognizer',
    in_channels=3,
    dictionary=dictionary,
    data_preprocessor=dict(type='ImgDataPreprocessor', mean=[127.5, 127.5, 127.5], std=[127.5, 127.5, 127.5]),
    backbone=dict(type='CRNNBackbone', channels=(16, 32, 64, 64, 96)),
    decoder=dict(type='BiLSTMCTCHead', hidden_size=96, num_layers=2, dropout=0.1),
    decoding=dict(type='greedy'),  # or dict(type='beam', beam_width=5)
)

