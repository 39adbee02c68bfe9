#define PY_SSIZE_T_CLEAN
#include <Python.h>
static PyObject *ping(PyObject *self, PyObject *unused) { return PyUnicode_FromString("pong"); }
static PyMethodDef methods[] = {{"ping", ping, METH_NOARGS, "pong"}, {NULL, NULL, 0, NULL}};
static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "_core", NULL, -1, methods};
PyMODINIT_FUNC PyInit__core(void) { return PyModule_Create(&module); }
