# The paper's FCN: two hidden ReLU layers of 128 units. Leaf configs set
# model.input_size to the variant's canvas.
model = dict(
    type='DigitClassifier',
    input_size=(28, 28),
    data_preprocessor=dict(type='ImgDataPreprocessor', mean=[0.0], std=[255.0]),
    classifier=dict(type='DigitFCN', hidden_dims=(128, 128)))
