# ASTER-style TPS rectifier: 20 control points on the top / bottom edges, a small conv
# localization net on a 32x64 view, 32x100 output, border padding; a fresh one is the
# identity. Sampling from the full-resolution input keeps it sharp.
preprocessor = dict(
    type='SpatialTransformer',
    family=dict(type='tps', num_control_points=20, layout='text', margin=0.05, control_point_range=1.5),
    loc_net=dict(type='conv', input_size=(32, 64), channels=(16, 32, 64), hidden_dims=(128, ), norm=True),
    out_size=(32, 100),
    padding='border',
    regularizers=[dict(type='BendingEnergyLoss', weight=0.01)],
)
