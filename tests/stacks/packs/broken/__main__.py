raise RuntimeError("this pack cannot start: missing dependency")
