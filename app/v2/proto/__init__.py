"""Stubs made from grpc_predict_v2.proto by grpcio-tools (`make protos`); never edited by hand."""
