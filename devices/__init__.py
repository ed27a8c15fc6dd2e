"""The registry of deployed hardware: partners, sites, batches, units, failure reports,
weather stations and observations, technicians; CSV import and the registry API."""
