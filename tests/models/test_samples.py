"""Training samples: the cells wholly inside a labelled polygon (checked cell by cell with
shapely), and the split by polygon."""
from __future__ import annotations

import numpy as np
import shapely
from affine import Affine
from shapely.geometry import Polygon, mapping

from processes.engine.grid import Grid
from processes.models.samples import interior_cells, labelled, split_polygons


def test_interior_cells_are_the_cells_wholly_inside(tmp_path):
    grid = Grid("EPSG:32631", Affine(10, 0, 500_000, 0, -10, 4_800_000), 60, 50)
    polys = [Polygon([(500_013, 4_799_987), (500_311, 4_799_961), (500_287, 4_799_702), (500_041, 4_799_733)]),
             Polygon([(500_320, 4_799_650), (500_580, 4_799_640), (500_450, 4_799_540)])]
    from pyproj import Transformer

    to84 = Transformer.from_crs("EPSG:32631", "OGC:CRS84", always_xy=True)
    feats = [{"type": "Feature", "id": str(i), "properties": {"crop": "a"},
              "geometry": mapping(shapely.transform(p, lambda xy: np.column_stack(to84.transform(xy[:, 0], xy[:, 1]))))}
             for i, p in enumerate(polys)]
    lab = labelled(feats, "crop", {"a": 1}, grid.crs)
    got = interior_cells(lab, grid)
    for g, cells in zip(lab.geoms, got):
        want = []
        for k in range(grid.width * grid.height):
            r, c = divmod(k, grid.width)
            x0, y0 = grid.transform * (c, r)
            if g.buffer(1e-6).contains(shapely.box(x0, y0 - 10, x0 + 10, y0)):
                want.append(k)
        assert sorted(cells.tolist()) == want and len(want) > 20


def test_split_by_polygon_holds_out_each_class():
    rng = np.random.default_rng(0)
    held = split_polygons([1, 1, 1, 2, 2, 2, 2, 2, 2, 2], 0.3, rng)
    labels = np.array([1, 1, 1, 2, 2, 2, 2, 2, 2, 2])
    assert held[labels == 1].sum() == 1 and held[labels == 2].sum() == 2
