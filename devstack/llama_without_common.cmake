# Included by llama.cpp's own CMakeLists.txt right after its project() call
# (CMAKE_PROJECT_llama.cpp_INCLUDE in the Makefile's LLAMA_CMAKE_ARGS).
#
# llama-cpp-python forces LLAMA_BUILD_COMMON on as a cache variable, so -DLLAMA_BUILD_COMMON=OFF
# cannot turn it off. A normal variable set here, in llama.cpp's directory scope, shadows that cache
# entry: its option() leaves it be (policy CMP0077), and neither the common library nor
# cpp-httplib (built only for it) is compiled. The Python package never loads either: it binds
# libllama and libggml alone, and builds JSON-schema grammars in Python. That is over half of the
# build's compiler time (715 of 1,400 CPU-seconds here; the wheel in 259 s against 510).
set(LLAMA_BUILD_COMMON OFF)
