"""Data only: M3 MI REST v2 swagger files of an M3 CE tenant, as the Infor sandbox's source of field metadata.

``*.swagger.json`` are verbatim copies of ``shared/fixtures/infor/m3-mi-swagger/`` (PyPI ``inforion`` 2.26.2.4,
``inforion/excelexport/api-files/InforM3MIv2 - 2020-06-17T*.json``, renamed per program). OIS275MI, GENERAL,
EXPORTMI, DRS100MI and OIS017MI have no raw swagger in the fixtures: ``derived-programs.json`` is their part of
``shared/fixtures/infor/derived/m3-key-transactions.json``, generated from the same swagger export. Read by
``psinfor_devkit.sandbox.infor.metadata``; never by the product.
"""
