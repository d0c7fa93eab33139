/* shmbus.Topic: one open topic (shmbus_topic). */
#include <string.h>

#include "shmbus_python.h"

shmbus_topic* shmbus_py_topic_handle(PyObject* object) {
    if (!PyObject_TypeCheck(object, &shmbus_py_TopicType)) {
        PyErr_Format(PyExc_TypeError, "expected a shmbus.Topic, not %.100s",
                     Py_TYPE(object)->tp_name);
        return NULL;
    }
    shmbus_py_topic* topic = (shmbus_py_topic*)object;
    if (topic->handle == NULL) {
        shmbus_py_raise_message(shmbus_py_ClosedError, "the topic is closed");
    }
    return topic->handle;
}

static const char* directory_chars(PyObject* directory) {
    return directory == NULL || directory == Py_None ? NULL : PyBytes_AS_STRING(directory);
}

/* "subscribe" / "publish" / "admin" to a shmbus_access. */
static bool parse_access(const char* access, int32_t* out) {
    static const char* const names[] = {"subscribe", "publish", "admin"};
    for (int32_t i = 0; i < 3; ++i) {
        if (strcmp(access, names[i]) == 0) {
            *out = i;
            return true;
        }
    }
    PyErr_Format(PyExc_ValueError, "access must be 'subscribe', 'publish' or 'admin', not '%s'",
                 access);
    return false;
}

static int topic_init(PyObject* object, PyObject* args, PyObject* kwargs) {
    shmbus_py_topic* self = (shmbus_py_topic*)object;
    static char* keywords[] = {"name", "bus_dir", "access", "prefault", NULL};
    const char* name = NULL;
    PyObject* directory = NULL;
    const char* access = "publish";
    int prefault = 1;
    if (!PyArg_ParseTupleAndKeywords(args, kwargs, "s|O&$sp:Topic.open", keywords, &name,
                                     shmbus_py_directory_converter, &directory, &access,
                                     &prefault)) {
        return -1;
    }
    int result = -1;
    shmbus_open_options options;
    shmbus_open_options_init(&options);
    options.prefault = prefault != 0;
    if (self->handle != NULL) {
        PyErr_SetString(PyExc_RuntimeError, "the topic is open already");
    } else if (parse_access(access, &options.access)) {
        int status;
        shmbus_topic* handle = NULL;
        Py_BEGIN_ALLOW_THREADS;
        status = shmbus_topic_open(directory_chars(directory), name, &options, &handle);
        Py_END_ALLOW_THREADS;
        if (status == SHMBUS_OK) {
            self->handle = handle;
            result = 0;
        } else {
            shmbus_py_raise(status);
        }
    }
    Py_XDECREF(directory);
    return result;
}

static void topic_dealloc(PyObject* object) {
    shmbus_py_topic* self = (shmbus_py_topic*)object;
    shmbus_topic_close(&self->handle);
    Py_TYPE(object)->tp_free(object);
}

static PyObject* topic_open(PyObject* type, PyObject* args, PyObject* kwargs) {
    return PyObject_Call(type, args, kwargs);
}

static bool parse_policy(const char* policy, int32_t* out) {
    if (strcmp(policy, "block") == 0) {
        *out = SHMBUS_POLICY_BLOCK;
    } else if (strcmp(policy, "overwrite") == 0) {
        *out = SHMBUS_POLICY_OVERWRITE;
    } else {
        PyErr_Format(PyExc_ValueError, "policy must be 'block' or 'overwrite', not '%s'", policy);
        return false;
    }
    return true;
}

static PyObject* topic_create(PyObject* type, PyObject* args, PyObject* kwargs) {
    static char* keywords[] = {"name",           "bus_dir",
                               "capacity",       "max_record_size",
                               "max_publishers", "max_subscribers",
                               "policy",         "timestamps",
                               "fenced_commits", "records_mode",
                               "state_mode",     "directory_mode",
                               "exist_ok",       NULL};
    shmbus_topic_options options;
    shmbus_topic_options_init(&options);
    const char* name = NULL;
    PyObject* directory = NULL;
    unsigned long long capacity = options.capacity;
    unsigned int max_record_size = options.max_record_size;
    unsigned int max_publishers = options.max_publishers;
    unsigned int max_subscribers = options.max_subscribers;
    const char* policy = "block";
    int timestamps = options.timestamps;
    int fenced_commits = options.fenced_commits;
    unsigned int records_mode = options.records_mode;
    unsigned int state_mode = options.state_mode;
    unsigned int directory_mode = options.directory_mode;
    int exist_ok = 0;
    if (!PyArg_ParseTupleAndKeywords(args, kwargs, "s|O&$KIIIsppIIIp:Topic.create", keywords, &name,
                                     shmbus_py_directory_converter, &directory, &capacity,
                                     &max_record_size, &max_publishers, &max_subscribers, &policy,
                                     &timestamps, &fenced_commits, &records_mode, &state_mode,
                                     &directory_mode, &exist_ok)) {
        return NULL;
    }
    options.capacity = capacity;
    options.max_record_size = max_record_size;
    options.max_publishers = max_publishers;
    options.max_subscribers = max_subscribers;
    options.timestamps = timestamps != 0;
    options.fenced_commits = fenced_commits != 0;
    options.records_mode = records_mode;
    options.state_mode = state_mode;
    options.directory_mode = directory_mode;
    PyObject* result = NULL;
    if (parse_policy(policy, &options.policy)) {
        int status;
        Py_BEGIN_ALLOW_THREADS;
        status = shmbus_topic_create(directory_chars(directory), name, &options);
        Py_END_ALLOW_THREADS;
        if (status == SHMBUS_OK || (status == SHMBUS_E_EXISTS && exist_ok)) {
            result =
                PyObject_CallFunction(type, "sO", name, directory == NULL ? Py_None : directory);
        } else {
            shmbus_py_raise(status);
        }
    }
    Py_XDECREF(directory);
    return result;
}

static PyObject* topic_open_or_create(PyObject* type, PyObject* args, PyObject* kwargs) {
    static char* keywords[] = {"name",     "bus_dir",         "access",         "prefault",
                               "capacity", "max_record_size", "max_publishers", "max_subscribers",
                               "policy",   "timestamps",      "fenced_commits", NULL};
    shmbus_topic_options options;
    shmbus_topic_options_init(&options);
    shmbus_open_options open_options;
    shmbus_open_options_init(&open_options);
    const char* name = NULL;
    PyObject* directory = NULL;
    const char* access = "publish";
    int prefault = 1;
    unsigned long long capacity = options.capacity;
    unsigned int max_record_size = options.max_record_size;
    unsigned int max_publishers = options.max_publishers;
    unsigned int max_subscribers = options.max_subscribers;
    const char* policy = "block";
    int timestamps = options.timestamps;
    int fenced_commits = options.fenced_commits;
    if (!PyArg_ParseTupleAndKeywords(args, kwargs, "s|O&$spKIIIspp:Topic.open_or_create", keywords,
                                     &name, shmbus_py_directory_converter, &directory, &access,
                                     &prefault, &capacity, &max_record_size, &max_publishers,
                                     &max_subscribers, &policy, &timestamps, &fenced_commits)) {
        return NULL;
    }
    options.capacity = capacity;
    options.max_record_size = max_record_size;
    options.max_publishers = max_publishers;
    options.max_subscribers = max_subscribers;
    options.timestamps = timestamps != 0;
    options.fenced_commits = fenced_commits != 0;
    open_options.prefault = prefault != 0;
    PyObject* result = NULL;
    if (parse_policy(policy, &options.policy) && parse_access(access, &open_options.access)) {
        shmbus_py_topic* topic =
            (shmbus_py_topic*)PyType_GenericNew((PyTypeObject*)type, NULL, NULL);
        if (topic != NULL) {
            int status;
            shmbus_topic* handle = NULL;
            Py_BEGIN_ALLOW_THREADS;
            status = shmbus_topic_open_or_create(directory_chars(directory), name, &options,
                                                 &open_options, &handle);
            Py_END_ALLOW_THREADS;
            if (status == SHMBUS_OK) {
                topic->handle = handle;
                result = (PyObject*)topic;
            } else {
                Py_DECREF(topic);
                shmbus_py_raise(status);
            }
        }
    }
    Py_XDECREF(directory);
    return result;
}

static PyObject* topic_remove(PyObject* type, PyObject* args, PyObject* kwargs) {
    (void)type;
    static char* keywords[] = {"name", "bus_dir", NULL};
    const char* name = NULL;
    PyObject* directory = NULL;
    if (!PyArg_ParseTupleAndKeywords(args, kwargs, "s|O&:Topic.remove", keywords, &name,
                                     shmbus_py_directory_converter, &directory)) {
        return NULL;
    }
    int status;
    Py_BEGIN_ALLOW_THREADS;
    status = shmbus_topic_remove(directory_chars(directory), name);
    Py_END_ALLOW_THREADS;
    Py_XDECREF(directory);
    if (status == SHMBUS_OK) Py_RETURN_TRUE;
    if (status == SHMBUS_E_NOT_FOUND) Py_RETURN_FALSE;
    return shmbus_py_raise(status);
}

static PyObject* topic_stat(PyObject* object, PyObject* unused) {
    (void)unused;
    shmbus_topic* handle = shmbus_py_topic_handle(object);
    if (handle == NULL) return NULL;
    shmbus_topic_stats stats;
    shmbus_topic_stats_init(&stats);
    int status = shmbus_topic_stat(handle, &stats);
    if (status != SHMBUS_OK) return shmbus_py_raise(status);
    return Py_BuildValue(
        "{sKsIsIsIsssOsOsKsKsKsKsKsKsKsKsKsKsKsIsIsI}", "capacity",
        (unsigned long long)stats.capacity, "max_record_size", stats.max_record_size,
        "max_publishers", stats.max_publishers, "max_subscribers", stats.max_subscribers, "policy",
        stats.policy == SHMBUS_POLICY_OVERWRITE ? "overwrite" : "block", "timestamps",
        stats.timestamps ? Py_True : Py_False, "fenced_commits",
        stats.fenced_commits ? Py_True : Py_False, "created_ns",
        (unsigned long long)stats.created_ns, "tail_position",
        (unsigned long long)stats.tail_position, "tail_sequence",
        (unsigned long long)stats.tail_sequence, "commit_floor",
        (unsigned long long)stats.commit_floor, "published", (unsigned long long)stats.published,
        "consumed", (unsigned long long)stats.consumed, "lost", (unsigned long long)stats.lost,
        "aborted", (unsigned long long)stats.aborted, "unblocked",
        (unsigned long long)stats.unblocked, "evicted", (unsigned long long)stats.evicted,
        "reclaimed", (unsigned long long)stats.reclaimed, "supervisor_pid", stats.supervisor_pid,
        "publishers", stats.publishers, "subscribers", stats.subscribers);
}

static PyObject* topic_close(PyObject* object, PyObject* unused) {
    (void)unused;
    shmbus_topic_close(&((shmbus_py_topic*)object)->handle);
    Py_RETURN_NONE;
}

static PyObject* topic_enter(PyObject* object, PyObject* unused) {
    (void)unused;
    if (shmbus_py_topic_handle(object) == NULL) return NULL;
    return Py_NewRef(object);
}

static PyObject* topic_exit(PyObject* object, PyObject* args) {
    (void)args;
    return topic_close(object, NULL);
}

static PyObject* topic_get_name(PyObject* object, void* closure) {
    (void)closure;
    shmbus_topic* handle = shmbus_py_topic_handle(object);
    return handle == NULL ? NULL : PyUnicode_DecodeFSDefault(shmbus_topic_name(handle));
}

static PyObject* topic_get_directory(PyObject* object, void* closure) {
    (void)closure;
    shmbus_topic* handle = shmbus_py_topic_handle(object);
    return handle == NULL ? NULL : PyUnicode_DecodeFSDefault(shmbus_topic_directory(handle));
}

static PyObject* topic_get_closed(PyObject* object, void* closure) {
    (void)closure;
    return PyBool_FromLong(((shmbus_py_topic*)object)->handle == NULL);
}

static PyObject* topic_repr(PyObject* object) {
    shmbus_topic* handle = ((shmbus_py_topic*)object)->handle;
    if (handle == NULL) return PyUnicode_FromString("<shmbus.Topic closed>");
    return PyUnicode_FromFormat("<shmbus.Topic '%s' in '%s'>", shmbus_topic_name(handle),
                                shmbus_topic_directory(handle));
}

static PyMethodDef topic_methods[] = {
    {"open", (PyCFunction)(void (*)(void))topic_open, METH_VARARGS | METH_KEYWORDS | METH_CLASS,
     "Topic.open(name, bus_dir=None, *, access='publish', prefault=True) -> Topic\n\n"
     "Opens an existing topic. bus_dir None means $SHMBUS_DIR, else /run/shmbus. access is\n"
     "'publish' (publishers and subscribers), 'subscribe' (records mapped read-only: only\n"
     "subscribers) or 'admin'. Raises NotFound, PermissionDenied, FormatError, Incompatible."},
    {"create", (PyCFunction)(void (*)(void))topic_create, METH_VARARGS | METH_KEYWORDS | METH_CLASS,
     "Topic.create(name, bus_dir=None, *, capacity=1 MiB, max_record_size=64 KiB,\n"
     "             max_publishers=16, max_subscribers=64, policy='block', timestamps=True,\n"
     "             fenced_commits=False, records_mode=0o640, state_mode=0o660, "
     "directory_mode=0o755,\n"
     "             exist_ok=False) -> Topic\n\n"
     "Creates a topic and opens it for publishing. capacity is the ring's size in bytes, a\n"
     "power of two; policy 'block' is lossless (publishers wait for the slowest subscriber),\n"
     "'overwrite' never makes publishers wait. fenced_commits: publishers commit with a full\n"
     "barrier, so that sleeping subscribers wake as fast as from a pipe (about 6% of the\n"
     "publish rate). Raises Exists (unless exist_ok),\n"
     "InvalidArgument, NoSpace, PermissionDenied."},
    {"open_or_create", (PyCFunction)(void (*)(void))topic_open_or_create,
     METH_VARARGS | METH_KEYWORDS | METH_CLASS,
     "Topic.open_or_create(name, bus_dir=None, *, access='publish', prefault=True,\n"
     "                     capacity=..., max_record_size=..., max_publishers=...,\n"
     "                     max_subscribers=..., policy='block', timestamps=True,\n"
     "                     fenced_commits=False) -> Topic\n\n"
     "Opens a topic; a missing one is first asked of the shmbusd supervising bus_dir, which\n"
     "creates it (with its own defaults where its configuration says so). NotFound when no\n"
     "daemon listens."},
    {"remove", (PyCFunction)(void (*)(void))topic_remove,
     METH_VARARGS | METH_KEYWORDS | METH_STATIC,
     "Topic.remove(name, bus_dir=None) -> bool\n\n"
     "Removes a topic's files: True if it existed. Attached clients go on with the old files."},
    {"stat", topic_stat, METH_NOARGS,
     "stat() -> dict\n\nA snapshot of the topic's layout, counters (published, consumed, lost,\n"
     "...) and occupied slots. Makes a lock probe per slot: keep it off the data path."},
    {"close", topic_close, METH_NOARGS,
     "close() -> None\n\nCloses the handle (again: nothing). Publishers and subscribers opened\n"
     "on the topic keep it mapped and go on working."},
    {"__enter__", topic_enter, METH_NOARGS, "Returns the topic."},
    {"__exit__", topic_exit, METH_VARARGS, "Closes the topic."},
    {NULL, NULL, 0, NULL},
};

static PyGetSetDef topic_getset[] = {
    {"name", topic_get_name, NULL, "The topic's name.", NULL},
    {"directory", topic_get_directory, NULL, "The bus directory the topic lives in.", NULL},
    {"closed", topic_get_closed, NULL, "True once close() was called.", NULL},
    {NULL, NULL, NULL, NULL, NULL},
};

PyTypeObject shmbus_py_TopicType = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "shmbus.Topic",
    .tp_basicsize = sizeof(shmbus_py_topic),
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_BASETYPE,
    .tp_doc =
        "Topic(name, bus_dir=None, *, access='publish', prefault=True)\n\n"
        "An open topic: a ring of records in memory-mapped files of the bus directory.\n"
        "Topic(...) is Topic.open(...); Topic.create(...) makes a new one. Use it in a\n"
        "with block or close() it; Publisher(topic) and Subscriber(topic) attach to it.",
    .tp_new = PyType_GenericNew,
    .tp_init = topic_init,
    .tp_dealloc = topic_dealloc,
    .tp_repr = topic_repr,
    .tp_methods = topic_methods,
    .tp_getset = topic_getset,
};
