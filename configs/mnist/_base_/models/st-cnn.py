# ST-CNN: a spatial transformer in front of the paper's CNN. Its localization net
# is a small CNN (two 3x3 conv stages of 20 channels with 2x2 max-pooling, then 32
# hidden units) on the input resized to 28x28; the transformer samples a 28x28
# output, which the CNN classifies (RTS and TC configs average 2x2 sub-samples per
# output pixel there, against aliasing when shrinking the larger canvas).
# Zero padding is the background (inputs are scaled to [0, 1], not centred).
# Leaf configs set model.input_size and the transform family.
model = dict(
    type='DigitClassifier',
    input_size=(28, 28),
    data_preprocessor=dict(type='ImgDataPreprocessor', mean=[0.0], std=[255.0]),
    stn=dict(
        family=dict(type='affine'),
        loc_net=dict(type='conv', channels=(20, 20), hidden_dims=(32, ), input_size=(28, 28)),
        out_size=(28, 28),
        sampling_ratio=1),
    classifier=dict(type='DigitCNN', channels=(16, 16), kernel_sizes=(9, 7)))
