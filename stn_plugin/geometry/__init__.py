"""Pure-torch geometry: the coordinate contract, transforms, families and TPS.

Imports nothing from the OpenMMLab stack.
"""
from .coords import (feature_index_to_normalized, index_to_continuous_matrix, normalized_matrix_to_pixel,
                     normalized_to_pixel, normalized_to_pixel_matrix, output_grid, pixel_matrix_to_normalized,
                     pixel_to_feature_index, pixel_to_feature_normalized, pixel_to_normalized,
                     pixel_to_normalized_matrix, roi_frame_matrix, roi_frame_to_pixel, sample_positions_1d)
from .families import (FAMILIES, AffineFamily, AttentionFamily, ProjectiveFamily, SimilarityFamily,
                       TPSFamily, TransformFamily, TranslationFamily, build_family, matrix_family_names)
from .matrices import (apply_matrix, as_homogeneous, check_invertible, compose, homography_from_points, identity_matrix,
                       invert, matrix_grid)
from .tps import ThinPlateSpline, grid_control_points, text_control_points, tps_kernel
from .transforms import (ComposedTransform, InverseTransform, MatrixTransform, TPSTransform, Transform, as_transform,
                         WrappingTransform, compose_transforms)

__all__ = ["feature_index_to_normalized", "index_to_continuous_matrix", "normalized_matrix_to_pixel",
           "normalized_to_pixel", "normalized_to_pixel_matrix", "output_grid",
           "pixel_matrix_to_normalized", "pixel_to_feature_index", "pixel_to_feature_normalized",
           "pixel_to_normalized", "pixel_to_normalized_matrix", "roi_frame_matrix", "roi_frame_to_pixel",
           "sample_positions_1d", "FAMILIES", "AffineFamily", "AttentionFamily", "ProjectiveFamily",
           "SimilarityFamily", "TPSFamily", "TransformFamily", "TranslationFamily", "build_family",
           "matrix_family_names", "apply_matrix", "as_homogeneous", "check_invertible", "compose",
           "homography_from_points", "identity_matrix", "invert", "matrix_grid", "ThinPlateSpline", "grid_control_points",
           "text_control_points", "tps_kernel", "ComposedTransform", "InverseTransform", "MatrixTransform",
           "TPSTransform", "Transform", "as_transform", "WrappingTransform", "compose_transforms"]
