-- 0009: which Shopify Admin API a store's orders are read through (issue 18): the REST Admin API
-- (`rest`, legacy since October 2024) or the GraphQL Admin API (`graphql`). Every existing store
-- keeps REST, so nothing changes for it until it is switched.
ALTER TABLE stores
  ADD COLUMN orders_api text NOT NULL DEFAULT 'rest' CHECK (orders_api IN ('rest', 'graphql'));
