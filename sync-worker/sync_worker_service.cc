#include "sync-worker/sync_worker_service.h"
