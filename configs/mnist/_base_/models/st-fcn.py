# ST-FCN: a spatial transformer in front of the paper's FCN; its localization net
# is fully connected (three layers of 32 units, as in the paper) on the input
# resized to 28x28. Leaf configs set model.input_size and the transform family.
model = dict(
    type='DigitClassifier',
    input_size=(28, 28),
    data_preprocessor=dict(type='ImgDataPreprocessor', mean=[0.0], std=[255.0]),
    stn=dict(
        family=dict(type='affine'),
        loc_net=dict(type='mlp', hidden_dims=(32, 32, 32), input_size=(28, 28)),
        out_size=(28, 28),
        sampling_ratio=1),
    classifier=dict(type='DigitFCN', hidden_dims=(128, 128)))
