"""Read one collection of brandpunt's /ogc with QGIS's own OAPIF provider (headless) and print what QGIS sees.

Usage: QT_QPA_PLATFORM=offscreen /usr/bin/python3 qgis_oapif.py BASE_URL COLLECTION TOKEN [PAGE_SIZE]
Prints one JSON object: {"valid", "count" (featureCount), "features": [{"code"/"id", "count", "geometry"}],
"crs"}. Authentication: the API token as the password of HTTP Basic (the user name is free).
"""
import json
import os
import sys

from qgis.core import QgsApplication, QgsVectorLayer

base, collection, token = sys.argv[1], sys.argv[2], sys.argv[3]
page_size = sys.argv[4] if len(sys.argv) > 4 else "0"

# Without the prefix QGIS finds no providers and crashes on the first layer.
QgsApplication.setPrefixPath("/usr", True)
app = QgsApplication([], False)
app.initQgis()
uri = (
    f"url='{base}' typename='{collection}' username='qgis' password='{token}' "
    f"pagingEnabled='true' maxNumFeatures='0' pageSize='{page_size}'"
)
layer = QgsVectorLayer(uri, collection, "oapif")
out = {"valid": layer.isValid(), "count": None, "features": []}
if layer.isValid():
    out["count"] = layer.featureCount()
    out["crs"] = layer.crs().authid()
    names = [f.name() for f in layer.fields()]
    out["fields"] = names
    for f in layer.getFeatures():
        attrs = {n: f[n] for n in names if n in ("code", "id", "count", "name")}
        # QVariant NULL -> None
        attrs = {k: (None if v is None or (hasattr(v, "isNull") and v.isNull()) else v) for k, v in attrs.items()}
        g = f.geometry()
        attrs["geometry"] = None if g.isNull() else g.asWkt(1)[:40]
        out["features"].append(attrs)
print(json.dumps(out, default=str), flush=True)
# QGIS 3.22 can crash while tearing down the provider registry at exit (exitQgis): the answer is out, leave.
os._exit(0)
