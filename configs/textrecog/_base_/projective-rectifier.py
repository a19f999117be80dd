# Projective rectifier (8 parameters), same localization net as the TPS one.
preprocessor = dict(
    type='SpatialTransformer',
    family=dict(type='projective'),
    loc_net=dict(type='conv', input_size=(32, 64), channels=(16, 32, 64), hidden_dims=(128, ), norm=True),
    out_size=(32, 100),
    padding='border',
    regularizers=[dict(type='AreaBoundLoss', min_scale=0.2, max_scale=2.0, weight=1.0)],
)
