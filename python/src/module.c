/* The module _shmbus: its exceptions, how a shmbus_status becomes one, timeouts and paths. */
#include <math.h>
#include <stdarg.h>

#include "shmbus_python.h"

PyObject* shmbus_py_Error;
PyObject* shmbus_py_StaleRecordError;
PyObject* shmbus_py_BufferInUseError;
PyObject* shmbus_py_ClosedError;

/* One exception class per status that a caller may want to catch on its own. */
typedef struct {
    int status;
    const char* name;   /* shmbus.<name> */
    PyObject** builtin; /* a second base (TimeoutError, ValueError), or NULL */
    const char* doc;
    PyObject* type; /* created at import */
} status_exception;

static status_exception status_exceptions[] = {
    {SHMBUS_E_BACK_PRESSURED, "BackPressure", NULL,
     "A block topic's slowest subscriber would be overrun: try again later (alias WouldBlock).",
     NULL},
    {SHMBUS_E_TIMED_OUT, "Timeout", &PyExc_TimeoutError, "The timeout passed first.", NULL},
    {SHMBUS_E_TOO_LARGE, "TooLarge", &PyExc_ValueError,
     "The record is longer than the topic's max_record_size.", NULL},
    {SHMBUS_E_EVICTED, "Evicted", NULL, "shmbusd evicted this subscriber: open a new one.", NULL},
    {SHMBUS_E_FORKED, "Forked", NULL,
     "The handle belongs to the parent of this forked process: open a new one here.", NULL},
    {SHMBUS_E_TOPIC_LOST, "TopicLost", NULL,
     "The topic's files were truncated: open the topic again.", NULL},
    {SHMBUS_E_CORRUPT, "Corrupt", NULL, "The shared state holds an impossible value.", NULL},
    {SHMBUS_E_CLAIM_PENDING, "ClaimPending", NULL,
     "The publisher already holds a claim that is neither committed nor aborted.", NULL},
    {SHMBUS_E_NO_CLAIM, "NoClaim", NULL, "Commit, abort or a payload with no claim pending.", NULL},
    {SHMBUS_E_INVALID_ARGUMENT, "InvalidArgument", &PyExc_ValueError,
     "A bad option, name or position, or a misuse.", NULL},
    {SHMBUS_E_CLOSED, "Closed", NULL, "The handle is closed.", NULL},
    {SHMBUS_E_NOT_FOUND, "NotFound", NULL, "No such topic or directory, or no daemon to ask.",
     NULL},
    {SHMBUS_E_EXISTS, "Exists", NULL, "The topic exists already.", NULL},
    {SHMBUS_E_PERMISSION, "PermissionDenied", NULL,
     "EACCES or EPERM, or a publisher on a topic opened for subscribing only.", NULL},
    {SHMBUS_E_FORMAT, "FormatError", NULL, "Not a shmbus topic, or an inconsistent layout.", NULL},
    {SHMBUS_E_INCOMPATIBLE, "Incompatible", NULL, "A topic of another format version.", NULL},
    {SHMBUS_E_NO_SPACE, "NoSpace", NULL, "The file system is full.", NULL},
    {SHMBUS_E_NO_SLOT, "NoSlot", NULL, "Every publisher or subscriber slot is taken.", NULL},
    {SHMBUS_E_BUSY, "Busy", NULL,
     "The topic is being initialised, or another daemon owns the directory.", NULL},
    {SHMBUS_E_SYSTEM, "SystemFailure", NULL, "Another system call failed: see .errno.", NULL},
    {SHMBUS_E_NO_MEMORY, "NoMemory", NULL, "An allocation inside libshmbus failed.", NULL},
    {SHMBUS_E_INTERNAL, "InternalError", NULL,
     "An unexpected failure inside libshmbus (a bug: please report it).", NULL},
};
#define STATUS_EXCEPTIONS (sizeof status_exceptions / sizeof status_exceptions[0])

PyObject* shmbus_py_exception(int status) {
    for (size_t i = 0; i < STATUS_EXCEPTIONS; ++i) {
        if (status_exceptions[i].status == status) return status_exceptions[i].type;
    }
    return shmbus_py_Error;
}

/* Raises `type(message)` with .status and .errno set. */
static PyObject* raise_with(PyObject* type, const char* message, PyObject* status, int error) {
    PyObject* exception = PyObject_CallFunction(type, "s", message);
    if (exception == NULL) return NULL;
    PyObject* errno_object = PyLong_FromLong(error);
    if (errno_object == NULL || PyObject_SetAttrString(exception, "status", status) < 0 ||
        PyObject_SetAttrString(exception, "errno", errno_object) < 0) {
        Py_XDECREF(errno_object);
        Py_DECREF(exception);
        return NULL;
    }
    Py_DECREF(errno_object);
    PyErr_SetObject(type, exception);
    Py_DECREF(exception);
    return NULL;
}

PyObject* shmbus_py_raise(int status) {
    const char* message = shmbus_last_error_message();
    if (message == NULL || message[0] == '\0') message = shmbus_strerror(status);
    int error = shmbus_last_errno();
    PyObject* status_object = PyLong_FromLong(status);
    if (status_object == NULL) return NULL;
    raise_with(shmbus_py_exception(status), message, status_object, error);
    Py_DECREF(status_object);
    return NULL;
}

PyObject* shmbus_py_raise_message(PyObject* type, const char* format, ...) {
    va_list arguments;
    va_start(arguments, format);
    PyObject* message = PyUnicode_FromFormatV(format, arguments);
    va_end(arguments);
    if (message == NULL) return NULL;
    const char* text = PyUnicode_AsUTF8(message);
    if (text != NULL) {
        PyObject* status =
            type == shmbus_py_ClosedError ? PyLong_FromLong(SHMBUS_E_CLOSED) : Py_NewRef(Py_None);
        if (status != NULL) {
            raise_with(type, text, status, 0);
            Py_DECREF(status);
        }
    }
    Py_DECREF(message);
    return NULL;
}

bool shmbus_py_timeout_ns(PyObject* timeout, int64_t* timeout_ns) {
    if (timeout == NULL || timeout == Py_None) {
        *timeout_ns = SHMBUS_WAIT_FOREVER;
        return true;
    }
    double seconds = PyFloat_AsDouble(timeout);
    if (seconds == -1.0 && PyErr_Occurred()) return false;
    if (isnan(seconds) || seconds < 0) {
        PyErr_SetString(PyExc_ValueError, "timeout must be None (forever) or seconds >= 0");
        return false;
    }
    double nanoseconds = seconds * 1e9;
    *timeout_ns = nanoseconds >= 9.2e18 ? INT64_MAX : (int64_t)nanoseconds;
    return true;
}

int shmbus_py_directory_converter(PyObject* object, void* result) {
    PyObject** out = (PyObject**)result;
    if (object == NULL) { /* cleanup call from PyArg_Parse* */
        Py_CLEAR(*out);
        return 1;
    }
    if (object == Py_None) {
        *out = Py_NewRef(Py_None);
        return 1;
    }
    return PyUnicode_FSConverter(object, out) ? Py_CLEANUP_SUPPORTED : 0;
}

static PyObject* module_version(PyObject* module, PyObject* unused) {
    (void)module;
    (void)unused;
    return PyUnicode_FromString(shmbus_version());
}

static PyObject* module_format_version(PyObject* module, PyObject* unused) {
    (void)module;
    (void)unused;
    return PyLong_FromUnsignedLong(shmbus_format_version());
}

static PyObject* module_strerror(PyObject* module, PyObject* argument) {
    (void)module;
    long status = PyLong_AsLong(argument);
    if (status == -1 && PyErr_Occurred()) return NULL;
    if (status < INT_MIN || status > INT_MAX) status = INT_MIN; /* "unknown status" */
    return PyUnicode_FromString(shmbus_strerror((int)status));
}

static PyMethodDef module_methods[] = {
    {"version", module_version, METH_NOARGS,
     "version() -> str\n\nThe release of the libshmbus loaded, e.g. '0.4.0'."},
    {"format_version", module_format_version, METH_NOARGS,
     "format_version() -> int\n\nThe topic format version libshmbus reads and writes."},
    {"strerror", module_strerror, METH_O,
     "strerror(status) -> str\n\nThe text of a shmbus status code ('back-pressured', ...)."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module_definition = {
    PyModuleDef_HEAD_INIT,
    .m_name = "shmbus._shmbus",
    .m_doc =
        "The C extension under the shmbus package: CPython over libshmbus's C API "
        "(shmbus.h). Import shmbus, not this.",
    .m_size = -1,
    .m_methods = module_methods,
};

static bool add_exception(PyObject* module, const char* name, PyObject* bases, const char* doc,
                          PyObject** type) {
    char qualified[96];
    PyOS_snprintf(qualified, sizeof qualified, "shmbus.%s", name);
    *type = PyErr_NewExceptionWithDoc(qualified, doc, bases, NULL);
    return *type != NULL && PyModule_AddObjectRef(module, name, *type) == 0;
}

static bool add_exceptions(PyObject* module) {
    if (!add_exception(module, "Error", PyExc_Exception,
                       "A shmbus failure. .status is the shmbus.h status code (an int, or None "
                       "for a misuse the Python layer caught), .errno the errno of the failing "
                       "system call or 0, str() the message of shmbus_last_error_message().",
                       &shmbus_py_Error)) {
        return false;
    }
    for (size_t i = 0; i < STATUS_EXCEPTIONS; ++i) {
        status_exception* entry = &status_exceptions[i];
        PyObject* bases = entry->builtin != NULL ? PyTuple_Pack(2, shmbus_py_Error, *entry->builtin)
                                                 : PyTuple_Pack(1, shmbus_py_Error);
        if (bases == NULL) return false;
        bool added = add_exception(module, entry->name, bases, entry->doc, &entry->type);
        Py_DECREF(bases);
        if (!added) return false;
        if (entry->status == SHMBUS_E_CLOSED) shmbus_py_ClosedError = entry->type;
    }
    if (PyModule_AddObjectRef(module, "WouldBlock", shmbus_py_exception(SHMBUS_E_BACK_PRESSURED)) <
        0) {
        return false;
    }
    if (!add_exception(module, "StaleRecordError", shmbus_py_Error,
                       "The record's payload was asked for after its subscriber moved past it "
                       "(next(), receive(), poll() or close()): copy what you need first.",
                       &shmbus_py_StaleRecordError)) {
        return false;
    }
    PyObject* bases = PyTuple_Pack(2, shmbus_py_Error, PyExc_BufferError);
    if (bases == NULL) return false;
    bool added = add_exception(
        module, "BufferInUseError", bases,
        "A buffer taken from a record in place or from a claim (a memoryview slice, a numpy "
        "array) is still alive where the subscriber must move past the record, or the claim "
        "must end. Drop it (del) or copy it first; the call can then be repeated.",
        &shmbus_py_BufferInUseError);
    Py_DECREF(bases);
    return added;
}

static bool add_type(PyObject* module, const char* name, PyTypeObject* type) {
    return PyType_Ready(type) == 0 && PyModule_AddObjectRef(module, name, (PyObject*)type) == 0;
}

PyMODINIT_FUNC PyInit__shmbus(void) {
    PyObject* module = PyModule_Create(&module_definition);
    if (module == NULL) return NULL;
    if (!add_exceptions(module) || !add_type(module, "Topic", &shmbus_py_TopicType) ||
        !add_type(module, "Publisher", &shmbus_py_PublisherType) ||
        !add_type(module, "Claim", &shmbus_py_ClaimType) ||
        !add_type(module, "Subscriber", &shmbus_py_SubscriberType) ||
        !add_type(module, "Record", &shmbus_py_RecordType) ||
        PyModule_AddStringConstant(module, "HEADER_VERSION", SHMBUS_VERSION) < 0 ||
        PyModule_AddIntConstant(module, "C_ABI_VERSION", SHMBUS_C_ABI_VERSION) < 0) {
        Py_DECREF(module);
        return NULL;
    }
    return module;
}
