"""The Open Inference Protocol (KServe v2) over `app.core`: REST routes and the gRPC service,
one inference path (`infer`), one tensor codec (`tensor_codec`) and the generated stubs."""
