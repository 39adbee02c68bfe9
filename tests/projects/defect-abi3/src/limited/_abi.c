#include <Python.h>
static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "_abi", NULL, -1, NULL};
PyMODINIT_FUNC PyInit__abi(void) {
    PyObject *m = PyModule_Create(&module);
    /* PyModule_AddObjectRef joined the limited API in 3.10, not 3.9 */
    if (m && PyModule_AddObjectRef(m, "answer", Py_None) < 0) { Py_DECREF(m); return NULL; }
    return m;
}
