# The paper's CNN: 9x9 conv -> 2x2 max-pool -> 7x7 conv -> 2x2 max-pool -> classifier
# (16 channels per conv, half the paper's 32, for 2 CPU cores). Leaf configs set
# model.input_size to the variant's canvas.
model = dict(
    type='DigitClassifier',
    input_size=(28, 28),
    data_preprocessor=dict(type='ImgDataPreprocessor', mean=[0.0], std=[255.0]),
    classifier=dict(type='DigitCNN', channels=(16, 16), kernel_sizes=(9, 7)))
