#include "scheduler-service/scheduler_service.h"
